/* Swaps two names in a directory, over and over (renameat2 RENAME_EXCHANGE), for the duration
 * given: the racer of test/native/public-text.test.ts. Usage: rename-exchange DIR A B SECONDS */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	int dir = open(argv[1], O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return 1;
	time_t end = time(NULL) + atoi(argv[4]);
	while (time(NULL) < end)
		for (int i = 0; i < 1000; i++) {
			syscall(SYS_renameat2, dir, argv[2], dir, argv[3], RENAME_EXCHANGE);
			for (volatile int k = 0; k < 200; k++)
				;
		}
	return 0;
}
