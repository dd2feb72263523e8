/* The sandboxed side of test/run/init-reach.test.ts: run as the command, it tries to take the
 * descriptors of the sandbox's init (pid 1 of its pid namespace, or the pid given) through
 * /proc/PID/fd, as a command without Landlock could while init was still dumpable. Prints
 * "reached N" (how many of the target's fds it opened) or "denied ERRNO-NAME". */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *pid = argc > 1 ? argv[1] : "1";
	char dir[64], path[96];
	snprintf(dir, sizeof dir, "/proc/%.20s/fd", pid);
	DIR *d = opendir(dir);
	if (!d) {
		printf("denied %s\n", errno == EACCES ? "EACCES" : strerror(errno));
		return 0;
	}
	int reached = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "%s/%.20s", dir, e->d_name);
		/* A pipe's end reopened for writing is the other end: init's status pipe, its freeze
		 * requests, the events channel. */
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			reached++;
			close(fd);
		}
	}
	closedir(d);
	printf("reached %d\n", reached);
	return 0;
}
