/* A vfork parent that waits for ever: the child never execs nor exits (it pauses), so the
 * parent stays in an uninterruptible wait (state D) and takes no SIGSTOP until it ends. */
#include <unistd.h>

int main(void)
{
	if (vfork() == 0)
		for (;;)
			pause();
	return 0;
}
