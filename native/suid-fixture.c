/* cordon-suid-fixture: the setuid/setgid-root file `cordon verify` (run by root) lets a sandbox
 * exec, to prove that no sandbox gains privileges through a setuid file.
 *
 * It is the only program cordon ever makes setuid, so its behaviour is fixed here at compile
 * time: it takes no arguments, reads no environment and no file, and only prints the
 * credentials exec gave it — "CapEff euid ruid egid rgid" — then exits. Even a copy run by
 * someone else could do nothing but print. (`cordon verify` also keeps the copy where only root
 * can reach it: a 0700 directory, bound into the sandbox as a single file.) Static, like
 * cordon-probes, because the sandbox's view may hold no libc. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	/* A policy may refuse capget: "unknown" then, never a number the probe would take for
	 * what exec gave (cordon-probes judges it: attack.c p_exec_caps). */
	char eff[24] = "unknown";
	if (syscall(SYS_capget, &hdr, data) == 0)
		snprintf(eff, sizeof eff, "%llx",
			 (unsigned long long)data[1].effective << 32 | data[0].effective);
	printf("%s %u %u %u %u\n", eff, (unsigned)geteuid(), (unsigned)getuid(),
	       (unsigned)getegid(), (unsigned)getgid());
	return 0;
}
