/* cn_proc_subscribe.h — one message to the kernel's proc connector: start (LISTEN) or stop
 * (IGNORE) receiving every process's fork, exec and exit. Shared by the launcher's process
 * events (proc_events.c) and the escape battery's probe of the same channel (attack.c). */
#ifndef CORDON_CN_PROC_SUBSCRIBE_H
#define CORDON_CN_PROC_SUBSCRIBE_H

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

/* 0, or -1 with errno from send(). fd: a bound NETLINK_CONNECTOR socket. The kernel answers
 * with a PROC_EVENT_NONE whose ack.err is its verdict, to every listener, carrying ack + 1
 * (cn_proc_ack): a tag to know one's own answer by. */
static inline int cn_proc_subscribe_tagged(int fd, enum proc_cn_mcast_op op, __u32 seq, __u32 ack)
{
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	memset(&msg, 0, sizeof msg);
	msg.nl.nlmsg_len = sizeof msg;
	msg.nl.nlmsg_type = NLMSG_DONE;
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.seq = seq;
	msg.cn.ack = ack;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof op;
	msg.op = op;
	return send(fd, &msg, sizeof msg, 0) == (ssize_t)sizeof msg ? 0 : -1;
}

static inline int cn_proc_subscribe(int fd, enum proc_cn_mcast_op op)
{
	return cn_proc_subscribe_tagged(fd, op, 0, 0);
}

#endif
