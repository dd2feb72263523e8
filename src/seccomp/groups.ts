// Named syscall groups, written for cordon. Each says why its members belong together; names
// missing on an architecture (open on aarch64, socketcall off i386) are skipped there.

export interface SyscallGroup {
  why: string
  members: readonly string[]
}

const w = (s: string) => s.trim().split(/\s+/)

export const GROUPS: Readonly<Record<string, SyscallGroup>> = {
  '@basic-io': {
    why: 'Reading and writing open descriptors: every program.',
    members: w(
      'ioctl read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 close close_range lseek _llseek dup dup2 dup3 sendfile sendfile64 splice tee vmsplice copy_file_range readahead',
    ),
  },
  '@file-system': {
    why: 'Paths and file metadata: opening, stat, directories, links, xattrs, notifications.',
    members:
      w(`access faccessat faccessat2 chdir fchdir chmod fchmod fchmodat fchmodat2 chown fchown fchownat lchown
      chown32 fchown32 lchown32 open openat openat2 creat stat fstat lstat newfstatat statx stat64 fstat64 lstat64
      fstatat64 statfs fstatfs statfs64 fstatfs64 getdents getdents64 getcwd mkdir mkdirat rmdir unlink unlinkat
      rename renameat renameat2 link linkat symlink symlinkat readlink readlinkat truncate ftruncate truncate64
      ftruncate64 utime utimes utimensat futimesat utimensat_time64 fallocate fadvise64 fadvise64_64 fcntl fcntl64
      flock inotify_init inotify_init1 inotify_add_watch inotify_rm_watch getxattr lgetxattr fgetxattr setxattr
      lsetxattr fsetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr getxattrat setxattrat
      listxattrat removexattrat file_getattr file_setattr memfd_create umask cachestat mknod mknodat`),
  },
  '@process': {
    why: 'Creating, running, waiting for and signalling processes and threads (namespace flags are checked separately).',
    members: w(`clone clone3 fork vfork execve execveat exit exit_group wait4 waitid waitpid kill tkill tgkill
      pidfd_open pidfd_send_signal getpid getppid gettid getpgid setpgid getpgrp getsid setsid prctl arch_prctl
      set_tid_address rseq set_thread_area get_thread_area seccomp personality nice process_mrelease
      lsm_get_self_attr lsm_list_modules`),
  },
  '@signal': {
    why: 'Signal handlers, masks and waits.',
    members:
      w(`rt_sigaction rt_sigprocmask rt_sigreturn sigreturn rt_sigpending rt_sigtimedwait rt_sigtimedwait_time64
      rt_sigqueueinfo rt_tgsigqueueinfo rt_sigsuspend sigaltstack signalfd signalfd4 sigaction sigprocmask sigpending
      sigsuspend signal pause restart_syscall`),
  },
  '@memory': {
    why: 'Mapping, protecting and advising memory in the own address space.',
    members:
      w(`brk mmap mmap2 munmap mremap mprotect madvise mlock mlock2 munlock mlockall munlockall mincore msync
      remap_file_pages pkey_alloc pkey_free pkey_mprotect membarrier memfd_secret mseal map_shadow_stack`),
  },
  '@ipc': {
    why: 'Pipes and System V / POSIX IPC between processes of the sandbox.',
    members: w(`pipe pipe2 shmget shmat shmdt shmctl msgget msgsnd msgrcv msgctl semget semop semtimedop
      semtimedop_time64 semctl ipc mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
      mq_timedsend_time64 mq_timedreceive_time64 eventfd eventfd2`),
  },
  '@io-event': {
    why: 'Waiting for descriptors: poll, select, epoll.',
    members:
      w(`poll ppoll ppoll_time64 select _newselect pselect6 pselect6_time64 epoll_create epoll_create1 epoll_ctl
      epoll_wait epoll_pwait epoll_pwait2`),
  },
  '@timer': {
    why: 'Reading clocks, sleeping and timers (setting the clock is @clock).',
    members:
      w(`alarm getitimer setitimer timer_create timer_settime timer_gettime timer_getoverrun timer_delete
      timer_settime64 timer_gettime64 timerfd_create timerfd_settime timerfd_gettime timerfd_settime64
      timerfd_gettime64 nanosleep clock_nanosleep clock_nanosleep_time64 clock_gettime clock_gettime64 clock_getres
      clock_getres_time64 gettimeofday time times`),
  },
  '@sync': {
    why: 'Flushing data to storage.',
    members: w('fsync fdatasync sync syncfs sync_file_range sync_file_range2 arm_sync_file_range'),
  },
  '@network-io': {
    why: 'Sockets: creating, connecting, sending and receiving (which families is for Landlock and argument rules).',
    members:
      w(`socket socketpair bind listen accept accept4 connect getsockname getpeername setsockopt getsockopt
      sendto recvfrom send recv sendmsg recvmsg sendmmsg recvmmsg recvmmsg_time64 shutdown socketcall`),
  },
  '@resources': {
    why: 'Reading and lowering resource limits, priorities and CPU affinity.',
    members:
      w(`getrlimit ugetrlimit setrlimit prlimit64 getrusage getpriority setpriority sched_yield sched_getaffinity
      sched_setaffinity sched_getparam sched_setparam sched_getscheduler sched_setscheduler sched_get_priority_max
      sched_get_priority_min sched_rr_get_interval sched_rr_get_interval_time64 sched_getattr sched_setattr
      ioprio_get ioprio_set`),
  },
  '@credentials': {
    why: 'Reading and changing ids and capabilities within what the process already holds.',
    members:
      w(`getuid geteuid getgid getegid getresuid getresgid getgroups setuid setgid setreuid setregid setresuid
      setresgid setgroups setfsuid setfsgid capget capset getuid32 geteuid32 getgid32 getegid32 getresuid32
      getresgid32 getgroups32 setuid32 setgid32 setreuid32 setregid32 setresuid32 setresgid32 setgroups32
      setfsuid32 setfsgid32`),
  },
  '@system-info': {
    why: 'Harmless facts about the system: uname, sysinfo, random numbers, the current CPU.',
    members: w('uname olduname oldolduname sysinfo getrandom getcpu'),
  },
  '@futex': {
    why: 'Thread synchronisation.',
    members: w(
      'futex futex_time64 futex_waitv futex_wake futex_wait futex_requeue set_robust_list get_robust_list',
    ),
  },
  '@aio': {
    why: 'Linux native asynchronous I/O (io_uring is @io-uring).',
    members: w('io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64'),
  },
  '@landlock': {
    why: 'Landlock lets a program sandbox itself further; nested sandboxes should work.',
    members: w('landlock_create_ruleset landlock_add_rule landlock_restrict_self'),
  },
  '@io-uring': {
    why: 'io_uring: a large, fast-moving kernel surface with a history of privilege escalations; it also bypasses seccomp for the operations it performs.',
    members: w('io_uring_setup io_uring_enter io_uring_register'),
  },
  '@mount': {
    why: 'Changing the mount table or the root: a sandbox must not rearrange its own view.',
    members:
      w(`mount umount umount2 pivot_root chroot fsopen fsconfig fsmount fspick move_mount open_tree open_tree_attr
      mount_setattr statmount listmount`),
  },
  '@module': {
    why: 'Loading kernel code.',
    members: w('init_module finit_module delete_module create_module query_module get_kernel_syms'),
  },
  '@reboot': {
    why: 'Rebooting or replacing the running kernel.',
    members: w('reboot kexec_load kexec_file_load'),
  },
  '@swap': { why: 'Enabling and disabling swap.', members: w('swapon swapoff') },
  '@clock': {
    why: 'Setting the system clock.',
    members: w('adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday stime'),
  },
  '@raw-io': {
    why: 'Direct hardware port and PCI access.',
    members: w('ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write'),
  },
  '@debug': {
    why: 'Inspecting or controlling other processes, and kernel performance counters: the classic escape and info-leak tools.',
    members: w('ptrace process_vm_readv process_vm_writev perf_event_open kcmp pidfd_getfd process_madvise'),
  },
  '@keyring': { why: 'The kernel keyring is not namespaced.', members: w('add_key request_key keyctl') },
  '@namespaces': {
    why: 'Entering or creating namespaces: new user namespaces expose kernel code paths otherwise reserved for root.',
    members: w('unshare setns'),
  },
  '@privileged': {
    why: 'Operations for administrators: accounting, eBPF, quotas, host names, the kernel log.',
    members:
      w(`acct bpf quotactl quotactl_fd nfsservctl setdomainname sethostname vhangup syslog lookup_dcookie
      fanotify_init fanotify_mark lsm_set_self_attr`),
  },
  '@file-handles': {
    why: 'open_by_handle_at opens files by inode handle, bypassing the mount view (the "shocker" container escape).',
    members: w('open_by_handle_at name_to_handle_at'),
  },
  '@cpu-emulation': {
    why: 'Legacy CPU modes and LDT changes.',
    members: w('modify_ldt subpage_prot switch_endian vm86 vm86old'),
  },
  '@numa': {
    why: 'NUMA placement of memory, which affects other tenants of the host.',
    members: w('mbind set_mempolicy get_mempolicy migrate_pages move_pages set_mempolicy_home_node'),
  },
  '@obsolete': {
    why: 'Syscalls unused by modern software; keeping them only adds attack surface.',
    members:
      w(`_sysctl afs_syscall bdflush break ftime getpmsg gtty idle lock mpx prof profil putpmsg security sgetmask
      ssetmask stty sysfs tuxcall ulimit uselib ustat vserver oldstat oldfstat oldlstat oldumount readdir`),
  },
  '@userfaultfd': {
    why: 'userfaultfd lets a process stall the kernel mid-copy, a staple of race exploits.',
    members: w('userfaultfd'),
  },
}

/** What a typical service needs: the groups `strict` allows. */
export const SYSTEM_SERVICE = [
  '@basic-io',
  '@file-system',
  '@process',
  '@signal',
  '@memory',
  '@ipc',
  '@io-event',
  '@timer',
  '@sync',
  '@network-io',
  '@resources',
  '@credentials',
  '@system-info',
  '@futex',
  '@aio',
  '@landlock',
]
