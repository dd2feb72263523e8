// Linux capability names and numbers (include/uapi/linux/capability.h), for `capabilities:`.

export const CAPABILITIES: readonly string[] = [
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
]

/** "CAP_NET_RAW", "net_raw" → 13; undefined when unknown. */
export function capabilityNumber(name: string): number | undefined {
  const i = CAPABILITIES.indexOf(name.toLowerCase().replace(/^cap_/, ''))
  return i < 0 ? undefined : i
}

export function capabilityName(n: number): string {
  return `CAP_${(CAPABILITIES[n] ?? String(n)).toUpperCase()}`
}
