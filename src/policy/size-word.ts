// A size in bytes as a person reads it (limits, warnings): on its own, for what needs no schema.
/** Bytes as a person reads them: 11.8 GiB, 64 MiB, 512 bytes. */
export const sizeWord = (bytes: number) =>
  bytes >= 2 ** 30
    ? `${+(bytes / 2 ** 30).toFixed(1)} GiB`
    : bytes >= 2 ** 20
      ? `${+(bytes / 2 ** 20).toFixed(1)} MiB`
      : bytes >= 2 ** 10
        ? `${+(bytes / 2 ** 10).toFixed(1)} KiB`
        : `${bytes} bytes`
