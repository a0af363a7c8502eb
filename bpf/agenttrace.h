/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one contract between the BPF programs and the collector: the layout of
 * every record that crosses the ring buffer, and of the counters map.
 *
 * Rules (after falcosecurity/libs): fixed-width types only; a record is a fixed
 * part followed by variable-length bytes whose lengths the fixed part gives, in
 * the order the fixed part lists them; new fields go at the end of a fixed part
 * (never in the middle) or into a new kind. tests/unit/record_layout_test.cpp
 * pins sizes and offsets with static_assert.
 */
#ifndef AGENTTRACE_BPF_AGENTTRACE_H
#define AGENTTRACE_BPF_AGENTTRACE_H

#include "registry.h"

#ifdef __BPF__
/* vmlinux.h provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define AT_COMM_LEN 16
#define AT_PATH_MAX 4096          /* longest path copied from user memory */
#define AT_DIR_MAX 4096           /* bytes of resolved directory components */
#define AT_DIR_DEPTH 40           /* directory levels walked for a relative path */
#define AT_ARGS_MAX 8192          /* bytes of argv copied at exec */
#define AT_ENV_NAME_MAX 256       /* bytes of an environment variable name */
#define AT_ENV_VALUE_MAX 1024     /* bytes of a value, only with --show-values */
#define AT_UTS_LEN 65
#define AT_CHUNK 16384            /* payload bytes per record; larger writes span records */
#define AT_MAX_CHUNKS 256         /* chunk records one call may produce */
#define AT_MAX_IOV 64             /* iovec entries walked per message */
#define AT_MAX_MMSG 8             /* messages walked per sendmmsg/recvmmsg */
#define AT_UNIX_PATH_MAX 108
#define AT_DNS_MAX_ADDRS 8        /* addresses kept from one resolver answer */
#define AT_DNS_NAME_MAX 256
#define AT_SCRATCH_SIZE 32768     /* per-CPU buffer a record is built in */
#define AT_SYSCALL_SLOTS 512      /* syscall numbers the dispatch tables cover */

#define AT_KIND_ROW(name, number, text) AT_KIND_##name = number,
enum at_kind {
	AT_KIND_NONE = 0,
	AT_KINDS(AT_KIND_ROW)
	AT_KIND_MAX = 32, /* room for later kinds; counters are sized by this */
};
#undef AT_KIND_ROW

/* The syscall (or library function) that produced a record. */
#define AT_SRC_ROW(name, number, text) AT_SRC_##name = number,
enum at_source {
	AT_SRC_NONE = 0,
	AT_SOURCES(AT_SRC_ROW)
	AT_SRC_MAX = 64,
};
#undef AT_SRC_ROW

/* at_header.flags */
#define AT_F_PATH_TRUNCATED (1u << 0)   /* a path was longer than AT_PATH_MAX */
#define AT_F_DIR_TRUNCATED (1u << 1)    /* directory walk hit AT_DIR_DEPTH/AT_DIR_MAX */
#define AT_F_ARGS_TRUNCATED (1u << 2)   /* argv longer than AT_ARGS_MAX */
#define AT_F_READ_FAILED (1u << 3)      /* a user-memory read failed */
#define AT_F_VALUE_TRUNCATED (1u << 4)  /* env value longer than AT_ENV_VALUE_MAX */
#define AT_F_DIR_UNKNOWN (1u << 5)      /* relative path whose base directory could not be read */
#define AT_F_VALUE_CAPTURED (1u << 6)   /* getenv: the value follows the name */
#define AT_F_TLS (1u << 7)              /* data is TLS plaintext from an SSL_* function */
#define AT_F_INBOUND (1u << 8)          /* data was received, not sent */
#define AT_F_IN_TLS_CALL (1u << 9)      /* socket write made inside SSL_write: ciphertext, not copied */
#define AT_F_BUDGET_SPENT (1u << 10)    /* the connection's capture budget ran out: bytes not copied */
#define AT_F_STACK (1u << 11)           /* the record ends with a user stack (struct at_stack_tail) */

struct at_header {
	__u16 kind;   /* enum at_kind */
	__u16 flags;  /* AT_F_* */
	__u32 size;   /* bytes of the whole record, fixed and variable parts */
	__u64 mono_ns; /* CLOCK_MONOTONIC, bpf_ktime_get_ns() */
	__u32 pid;    /* thread group id */
	__u32 tid;
	__u32 ppid;   /* real parent's thread group id */
	__u32 reserved;
	char comm[AT_COMM_LEN];
};

/* AT_KIND_EXEC; followed by filename as passed to execve (filename_len bytes,
 * no NUL), the executable's path components innermost first (exe_len), the
 * working directory's components innermost first (cwd_len), then the argv
 * area as the kernel holds it: NUL-terminated strings (args_len bytes). */
struct at_exec {
	struct at_header h;
	__u32 filename_len;
	__u32 args_len;
	__u32 args_total; /* size of the whole argv area; > args_len when truncated */
	__u32 old_tid;    /* thread that called execve, when it was not the leader */
	__u16 exe_len;
	__u16 cwd_len;
	__u32 reserved;
};

/* AT_KIND_FORK: h.pid/h.tid created child_pid/child_tid. */
struct at_fork {
	struct at_header h;
	__u32 child_pid;
	__u32 child_tid;
	__u32 is_thread;
	__u32 reserved;
};

/* AT_KIND_EXIT: the last thread of h.pid left; status as wait(2) encodes it. */
struct at_exit {
	struct at_header h;
	__s32 status;
	__u32 reserved;
};

/* AT_KIND_OPEN, AT_KIND_READLINK, AT_KIND_STAT, AT_KIND_ACCESS. Followed by
 * the path (path_len bytes, no NUL), then, for a relative path, the components
 * of its base directory from the innermost outwards, each NUL-terminated
 * (dir_len bytes), then for readlink the target (target_len bytes), then for
 * a successful open the components of the file it opened (real_len bytes):
 * symlinks resolved, so a link chain to /etc/localtime is seen for what it is. */
struct at_path_event {
	struct at_header h;
	__s64 result;  /* fd, 0, byte count, or -errno */
	__s32 dirfd;   /* AT_FDCWD (-100) when relative to the working directory */
	__u32 flags;   /* open flags, AT_* flags, or access mode */
	__u32 mode;    /* creation mode for open; statx mask */
	__u16 source;  /* enum at_source */
	__u16 path_len;
	__u16 dir_len;
	__u16 target_len;
	__u16 dir_depth;
	__u16 real_len; /* open: components of the opened file's own path, innermost
			 * first, after the target (0 when the open failed) */
};

/* AT_KIND_GETENV; followed by the name (name_len) and, only when values are
 * captured and the variable was set, the value (value_len). */
struct at_getenv {
	struct at_header h;
	__u16 source; /* AT_SRC_GETENV, AT_SRC_SECURE_GETENV or AT_SRC_PROCESS_ENV */
	__u16 found;
	__u16 name_len;
	__u16 value_len;
};

/* AT_KIND_UNAME; followed by nodename (nodename_len) and release (release_len). */
struct at_uname {
	struct at_header h;
	__s64 result;
	__u16 nodename_len;
	__u16 release_len;
	__u32 reserved;
};

/* A socket address as the kernel side decodes it. */
struct at_sockaddr {
	__u16 family;   /* AF_INET, AF_INET6, AF_UNIX, AF_NETLINK; 0 when unknown */
	__u16 port;     /* host byte order; for AF_NETLINK the socket's protocol */
	__u32 scope_id;
	__u8 addr[16];  /* IPv4 in the first 4 bytes */
};

/* AT_KIND_CONNECT, AT_KIND_BIND, AT_KIND_LISTEN, AT_KIND_ACCEPT,
 * AT_KIND_CLOSE; followed by a unix socket path (unix_len bytes; an abstract
 * name starts with NUL). */
struct at_sock_event {
	struct at_header h;
	__s64 result;     /* 0, the accepted fd, or -errno */
	__u64 conn;       /* opaque socket identity, stable while the socket lives */
	__s32 fd;         /* the socket (the listening one for accept) */
	__u16 source;
	__u16 sock_type;  /* SOCK_STREAM, SOCK_DGRAM, ... */
	__s32 backlog;    /* listen */
	__u16 unix_len;
	__u16 reserved;
	struct at_sockaddr addr;   /* connect/bind: the address given; accept: the peer */
	struct at_sockaddr local;  /* the socket's own address after the call, when bound */
};

/* AT_KIND_SEND, AT_KIND_RECV: one record per chunk of a message's bytes.
 * Chunks of one message share call_id and msg_index; data_offset says where
 * a chunk's bytes (data_len of them, following) sit in the message. A message
 * with nothing captured still has one record with data_len 0. */
struct at_data_event {
	struct at_header h;
	__s64 result;       /* what the call returned: bytes, or -errno */
	__u64 conn;         /* socket identity; 0 when unknown (TLS not yet tied to one) */
	__u64 call_id;      /* groups the records of one call */
	__u64 ssl;          /* opaque SSL object identity for TLS data; for a socket
			     * write, the SSL object it was found to carry, or 0 */
	__u64 msg_bytes;    /* bytes of this message the call moved */
	__s32 fd;
	__u16 source;
	__u16 sock_type;
	__u32 msg_index;    /* message within sendmmsg/recvmmsg; 0 otherwise */
	__u32 data_offset;
	__u32 data_len;
	__u32 captured;     /* bytes of this message copied over all its chunks */
	__u16 chunk_index;
	__u16 chunk_count;
	__u16 unix_len;     /* unix path of an explicit destination, after the data */
	__u16 reserved;
	struct at_sockaddr peer;   /* explicit destination, else the socket's peer */
	struct at_sockaddr local;
};

/* AT_KIND_DNS: a resolver library call and its answer. Followed by the name
 * (name_len bytes). */
struct at_dns_event {
	struct at_header h;
	__s32 result;       /* the function's return value (0 is success for getaddrinfo) */
	__u16 source;
	__u16 name_len;
	__u16 count;        /* addresses that follow in addrs */
	__u16 family;       /* requested family, gethostbyname2 */
	__u32 reserved;
	struct at_sockaddr addrs[AT_DNS_MAX_ADDRS];
};

/* A record with AT_F_STACK ends (at h.size) with the calling thread's user
 * stack: `count` frames, innermost first (the first is where the thread was:
 * the return address of a probed function, the address after a syscall),
 * then this tail. Each frame says where its address lies, read from the
 * process's memory map at that moment, so a process that exits at once still
 * has its frames placed. Kinds that carry a stack are chosen by the collector
 * (the stack_kinds bit mask, 1 << kind). */
#define AT_STACK_MAX 32
#define AT_FRAME_UNKNOWN 0  /* the memory map could not be looked at (busy) */
#define AT_FRAME_FILE 1     /* in a mapped file: file_offset, dev and ino are set */
#define AT_FRAME_ANON 2     /* in anonymous memory: JIT code */
#define AT_FRAME_NONE 3     /* in no mapping at all */
struct at_frame {
	__u64 ip;
	__u64 file_offset;  /* where ip lies in the mapped file */
	__u64 ino;          /* the mapped file's inode */
	__u32 dev;          /* and its super_block->s_dev (the kernel's encoding) */
	__u32 kind;         /* AT_FRAME_* */
};
struct at_stack_tail {
	__u32 count;
	__s32 error;  /* bpf_get_stack's error when it could not walk; 0 otherwise */
};
#define AT_STACK_BYTES (AT_STACK_MAX * 32 + 8)

/* at_splice_event.in_type and out_type */
#define AT_FILE_OTHER 0
#define AT_FILE_REGULAR 1
#define AT_FILE_PIPE 2
#define AT_FILE_SOCKET 3

/* AT_KIND_SPLICE: bytes moved by sendfile(2) or splice(2) without passing
 * through the program's memory, recorded when they reach a socket, and when a
 * regular file is spliced into a pipe (so the collector can tell which file a
 * later pipe-to-socket splice carried). Followed by the components of the
 * input file's path, innermost first (path_len bytes), when it is a regular
 * file. */
struct at_splice_event {
	struct at_header h;
	__s64 result;      /* bytes moved, or -errno */
	__u64 conn;        /* socket identity of the output, when a socket */
	__u64 in_pipe;     /* opaque pipe identity of the input, when a pipe */
	__u64 out_pipe;    /* and of the output */
	__s32 in_fd;
	__s32 out_fd;
	__u16 source;      /* AT_SRC_SENDFILE, AT_SRC_SPLICE */
	__u16 in_type;     /* AT_FILE_* */
	__u16 out_type;
	__u16 sock_type;
	__u16 path_len;
	__u16 reserved;
	__u32 reserved2;
	struct at_sockaddr peer;   /* the output socket's peer */
	struct at_sockaddr local;
};

/* AT_KIND_IO_URING: io_uring_setup(2) (result: the ring's fd or -errno), or
 * the first submission of each operation by a process, and every open
 * submitted (followed by its path, path_len bytes, as the kernel copied it).
 * What io_uring operations do is not decoded: these records name the gap. */
struct at_io_uring_event {
	struct at_header h;
	__s64 result;
	__u16 source;      /* AT_SRC_IO_URING_SETUP, AT_SRC_IO_URING_SUBMIT */
	__u8 opcode;       /* IORING_OP_* of a submission */
	__u8 reserved;
	__s32 dirfd;       /* of an open submission */
	__u16 path_len;
	__u16 reserved2;
	__u32 reserved3;
};

/* AT_KIND_SYSCALL: a call of a system call that an agent's work does not
 * need and an escape does (mount, bpf, ptrace, module loading, keyctl,
 * setns, ...), recorded with its result; a failed call of a few common ones
 * (kill, clone, setuid, ...): a sandbox's refusals; and a failed 32-bit call.
 * The collector chooses the calls (the watched_syscalls map). Followed by
 * the call's path argument (path_len bytes), for calls that take one. */
#define AT_ABI_X86_64 0
#define AT_ABI_IA32 1
struct at_syscall_event {
	struct at_header h;
	__s64 result;    /* what the call returned, or -errno */
	__u64 args[4];   /* its first four arguments, raw */
	__u32 nr;        /* the system call's number in its ABI */
	__u16 abi;       /* AT_ABI_* */
	__u16 path_len;
};

/* AT_KIND_HOST_QUERY: a question put to the kernel about the host's network
 * interfaces, which hands over their names, addresses and MAC addresses. A
 * netlink request: the first message of a sendto/sendmsg on an AF_NETLINK
 * socket (RTM_GETLINK and RTM_GETADDR dumps are what getifaddrs(3) and Node's
 * os.networkInterfaces() send; getaddrinfo(3) with AI_ADDRCONFIG sends an
 * RTM_GETADDR dump). Or an interface ioctl, requests AT_SIOCGIF_FIRST to
 * AT_SIOCGIF_LAST (SIOCGIFCONF, SIOCGIFHWADDR, SIOCGIFADDR, SIOCGIFNAME, ...),
 * recorded at exit so the name SIOCGIFNAME returns is seen. */
#define AT_SIOCGIF_FIRST 0x8910
#define AT_SIOCGIF_LAST 0x8970
#define AT_IFNAMSIZ 16
struct at_host_query {
	struct at_header h;
	__s64 result;     /* the call's return value, or -errno */
	__u32 request;    /* the ioctl request number, or the netlink message type */
	__s32 fd;
	__u16 source;     /* AT_SRC_IOCTL, AT_SRC_SENDTO, AT_SRC_SENDMSG */
	__u16 nl_flags;   /* netlink: nlmsg_flags (NLM_F_DUMP is 0x300) */
	__u16 protocol;   /* netlink: the socket's protocol (NETLINK_ROUTE is 0) */
	__u8 family;      /* netlink: the family byte after the header (rtgen_family, ifi_family) */
	__u8 reserved;
	__s32 ifindex;    /* ioctl SIOCGIFNAME, SIOCGIFINDEX: the interface index; netlink: ifi_index */
	__u32 length;     /* ioctl SIOCGIFCONF: ifc_len after the call; netlink: nlmsg_len */
	char ifname[AT_IFNAMSIZ]; /* ioctl: ifr_name, the interface asked about (or, SIOCGIFNAME, returned) */
};

/* Values of the watched_syscalls map, keyed by x86-64 syscall number. */
#define AT_WATCH_ALWAYS 1   /* every call */
#define AT_WATCH_FAILED 2   /* calls that fail */
struct at_watched_syscall {
	__u8 when;      /* 0 (not watched), AT_WATCH_ALWAYS, AT_WATCH_FAILED */
	__u8 path_arg;  /* 1-based index of an argument that is a path; 0: none */
	__u16 reserved;
};

/* Per-kind counters, summed over CPUs by the collector. */
struct at_kind_counters {
	__u64 emitted;     /* records written to the ring buffer */
	__u64 dropped;     /* ring buffer full: record lost */
	__u64 read_failed; /* a user-memory read failed (record still sent, flagged) */
	__u64 truncated;   /* record sent with a truncated field */
};

struct at_counters {
	struct at_kind_counters kinds[AT_KIND_MAX];
	__u64 stash_full;       /* enter/exit pairing map was full: syscall not recorded */
	__u64 filter_full;      /* traced-process map was full: a new process not followed */
	__u64 compat_syscalls;  /* 32-bit syscalls of traced processes: not decoded */
	__u64 payload_bytes;    /* payload bytes copied */
	__u64 payload_truncated; /* payload bytes not copied: budget spent or per-call limits */
	/* The uprobe entry/return pairing map (ustash), per kind of the record
	 * the call would have made: an entry that could not be saved (map full:
	 * the call is not recorded), and calls a thread was still inside when it
	 * exited (killed, or exited from a callback: no return, no record). */
	__u64 ustash_full[AT_KIND_MAX];
	__u64 unfinished[AT_KIND_MAX];
};

/* The syscall_sites map: where, at the instruction after a C library's
 * syscall, its wrapper keeps the caller's return address (CFA - 8, with
 * CFA = rsp + cfa) and frame pointer (CFA + rbp; 0: rbp is unchanged). */
struct at_site_key {
	__u64 ino;
	__u32 dev;
	__u32 reserved;
	__u64 offset;  /* file offset of the address after the syscall instruction */
};
struct at_site_frame {
	__s32 cfa;
	__s32 rbp;
};

/* Key of the watch_exes map: an executable file, as the kernel knows it. */
struct at_file_id {
	__u64 dev;  /* super_block->s_dev, the kernel's encoding (major << 20 | minor) */
	__u64 ino;
};

/* Values of the traced-process map. */
#define AT_TRACED_ROOT 1u     /* put there by the collector */
#define AT_TRACED_CHILD 2u    /* inherited through fork */
#define AT_TRACED_MATCH 3u    /* matched a watch filter at exec */

#endif /* AGENTTRACE_BPF_AGENTTRACE_H */
