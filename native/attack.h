/* The escape battery's shared pieces (attack.c runs the probes; attack-files.c holds the
 * probes on files: setuid planting and device-node metadata). */
#ifndef CORDON_ATTACK_H
#define CORDON_ATTACK_H

struct result {
	const char *call;
	int escaped;
	int err; /* errno when blocked, 0 when none */
	char detail[160];
};

struct result fail_with(const char *call, int err);
struct result escaped(const char *call, const char *detail);

/* Escaped when PATH opens and gives bytes. */
struct result p_read(const char *path);
/* Creates setuid/setgid files in DIR through every entry point; they stay for the host check. */
struct result p_setuid_plant(const char *dir);
/* chmod, chown and utimensat on /dev/null, /dev/zero and /dev/full, to the values they have. */
struct result p_device_metadata(const char *arg);

#endif
