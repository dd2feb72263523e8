/* The escape battery's shared pieces (attack.c runs the probes; attack-files.c holds the
 * probes on files: setuid planting and device-node metadata; attack-net.c the network side doors). */
#ifndef CORDON_ATTACK_H
#define CORDON_ATTACK_H

struct result {
	const char *call;
	int escaped;
	int err; /* errno when blocked, 0 when none */
	/* The probe's own machinery (a pipe, a fork, a wait) failed: the attack was not tried. */
	int untried;
	char detail[160];
};

struct result fail_with(const char *call, int err);
struct result escaped(const char *call, const char *detail);
/* CALL, which the probe needs for itself and an attacker would not, failed with ERR: neither a
 * block nor an escape. A learned allowlist may refuse a probe its pipe or its fork, while the
 * attack (an exec, say) needs neither. */
struct result untried(const char *call, int err);

/* Escaped when PATH opens and gives bytes. */
struct result p_read(const char *path);
/* Creates setuid/setgid files in DIR through every entry point; they stay for the host check. */
struct result p_setuid_plant(const char *dir);
/* chmod, chown and utimensat on /dev/null, /dev/zero and /dev/full, to the values they have. */
struct result p_device_metadata(const char *arg);

/* Network side doors and the terminal guard's high bits (attack-net.c); ARG is a host TCP port. */
struct result p_tcp_fastopen(const char *arg);
struct result p_tcp_fastopen6(const char *arg);
struct result p_tcp_fastopen_sendmsg(const char *arg);
struct result p_tcp_fastopen_sendmmsg(const char *arg);
struct result p_tcp_fastopen_connect(const char *arg);
struct result p_listen_autobind(const char *arg);
struct result p_mptcp_connect(const char *arg);
struct result p_vsock(const char *arg);
struct result p_net_families(const char *arg);
struct result p_tiocsti_high_bits(const char *arg);

#endif
