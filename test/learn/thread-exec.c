/* thread-exec [leader-exits]: a thread other than the leader runs /bin/echo. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
static void *run(void *arg)
{
	(void)arg;
	usleep(20000);
	char *argv[] = { "echo", "exec from a thread", NULL };
	execv("/bin/echo", argv);
	return NULL;
}
int main(int argc, char **argv)
{
	pthread_t t;
	pthread_create(&t, NULL, run, NULL);
	if (argc > 1 && strcmp(argv[1], "leader-exits") == 0)
		pthread_exit(NULL);
	pause();
	return 3;
}
