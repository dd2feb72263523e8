/* thread-exec [leader-exits | refused FILE]: a thread other than the leader runs /bin/echo.
 * refused: the thread's exec of FILE fails and it spins without a call, then the leader runs
 * /bin/true, which ends the thread (helper-143: learned as the thread's exec done). */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static const char *refused;

static void *run(void *arg)
{
	(void)arg;
	if (refused) {
		char *argv[] = { (char *)refused, NULL };
		execv(refused, argv);
		for (volatile unsigned long n = 0;; n++)
			;
	}
	usleep(20000);
	char *argv[] = { "echo", "exec from a thread", NULL };
	execv("/bin/echo", argv);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc > 2 && strcmp(argv[1], "refused") == 0)
		refused = argv[2];
	pthread_create(&t, NULL, run, NULL);
	if (refused) {
		usleep(100000);
		char *args[] = { "true", NULL };
		execv("/bin/true", args);
		return 4;
	}
	if (argc > 1 && strcmp(argv[1], "leader-exits") == 0)
		pthread_exit(NULL);
	pause();
	return 3;
}
