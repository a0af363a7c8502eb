/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The registry of record kinds and sources: one row each, from which come
 * enum at_kind and enum at_source (agenttrace.h, for the BPF programs and the
 * collector), the collector's kind names, the decoder's check that
 * trace::Syscall numbers every source as the kernel does (a row the schema
 * lacks fails the build), its mapping of a source to trace::Syscall, and
 * trace::syscall_name. Plain macros: the BPF side includes it too.
 */
#ifndef AGENTTRACE_BPF_REGISTRY_H
#define AGENTTRACE_BPF_REGISTRY_H

/* X(NAME, number, "name"): AT_KIND_NAME, and the name the trace header's
 * stack_kinds list and the collector's counters use. */
#define AT_KINDS(X) \
	X(EXEC, 1, "exec") \
	X(FORK, 2, "fork") \
	X(EXIT, 3, "exit") \
	X(OPEN, 4, "open") \
	X(READLINK, 5, "readlink") \
	X(STAT, 6, "stat") \
	X(ACCESS, 7, "access") \
	X(GETENV, 8, "getenv") \
	X(UNAME, 9, "uname") \
	X(CONNECT, 10, "connect") \
	X(BIND, 11, "bind") \
	X(LISTEN, 12, "listen") \
	X(ACCEPT, 13, "accept") \
	X(SEND, 14, "send") \
	X(RECV, 15, "recv") \
	X(CLOSE, 16, "close") \
	X(DNS, 17, "dns") \
	X(SPLICE, 18, "splice") /* sendfile/splice to a socket, or of a file into a pipe */ \
	X(IO_URING, 19, "io_uring") /* an io_uring set up, or an operation submitted to one */ \
	X(SYSCALL, 20, "system_call") /* a privileged call, or a refused one (struct at_syscall_event) */ \
	X(HOST_QUERY, 21, "host_query") /* a netlink request or an interface ioctl (struct at_host_query) */

/* X(NAME, number, "name"): AT_SRC_NAME = trace::SYSCALL_NAME, and the name
 * reports print for it. */
#define AT_SOURCES(X) \
	X(OPEN, 1, "open") \
	X(OPENAT, 2, "openat") \
	X(OPENAT2, 3, "openat2") \
	X(CREAT, 4, "creat") \
	X(READLINK, 5, "readlink") \
	X(READLINKAT, 6, "readlinkat") \
	X(STAT, 7, "stat") \
	X(LSTAT, 8, "lstat") \
	X(NEWFSTATAT, 9, "newfstatat") \
	X(STATX, 10, "statx") \
	X(ACCESS, 11, "access") \
	X(FACCESSAT, 12, "faccessat") \
	X(FACCESSAT2, 13, "faccessat2") \
	X(GETENV, 14, "getenv") \
	X(SECURE_GETENV, 15, "secure_getenv") \
	X(UNAME, 16, "uname") \
	X(CONNECT, 17, "connect") \
	X(BIND, 18, "bind") \
	X(LISTEN, 19, "listen") \
	X(ACCEPT, 20, "accept") \
	X(ACCEPT4, 21, "accept4") \
	X(WRITE, 22, "write") \
	X(WRITEV, 23, "writev") \
	X(SENDTO, 24, "sendto") \
	X(SENDMSG, 25, "sendmsg") \
	X(SENDMMSG, 26, "sendmmsg") \
	X(SSL_WRITE, 27, "SSL_write") \
	X(SSL_WRITE_EX, 28, "SSL_write_ex") \
	X(SSL_READ, 29, "SSL_read") \
	X(SSL_READ_EX, 30, "SSL_read_ex") \
	X(READ, 31, "read") \
	X(READV, 32, "readv") \
	X(RECVFROM, 33, "recvfrom") \
	X(RECVMSG, 34, "recvmsg") \
	X(RECVMMSG, 35, "recvmmsg") \
	X(CLOSE, 36, "close") \
	X(GETADDRINFO, 37, "getaddrinfo") \
	X(GETHOSTBYNAME, 38, "gethostbyname") \
	X(GETHOSTBYNAME2, 39, "gethostbyname2") \
	X(GETHOSTBYNAME_R, 40, "gethostbyname_r") \
	X(GETHOSTBYNAME2_R, 41, "gethostbyname2_r") \
	X(SENDFILE, 42, "sendfile") \
	X(SPLICE, 43, "splice") \
	X(IO_URING_SETUP, 44, "io_uring_setup") \
	X(IO_URING_SUBMIT, 45, "io_uring_submit") \
	X(PROCESS_ENV, 46, "process.env") /* Bun's process.env / Bun.env getter (Bun__getEnvValue) */ \
	X(IOCTL, 47, "ioctl")

/* Sources only the decoder names (no kernel record carries them):
 * trace::SYSCALL_NAME and its printed name. */
#define AT_DECODER_SOURCES(X) \
	X(DNS_QUERY, 100, "query") \
	X(DNS_RESPONSE, 101, "response")

/* The system calls with handlers, X(call, handler): SYS_call is its number
 * in the collector, handle_sys_enter_handler and handle_sys_exit_handler its
 * programs (named as the kernel's syscall tracepoints name the call). Rows
 * of AT_SYSCALLS_BOTH have both programs, AT_SYSCALLS_ENTER only the entry's
 * (there is nothing to add at the exit), AT_SYSCALLS_EXIT only the exit's. A
 * handler without a row fails the BPF build (SYS_ENTER and SYS_EXIT assert
 * their row); a row without its program fails the collector's build (the
 * skeleton has no such program to install). */
#define AT_SYSCALLS_BOTH(X) \
	X(open, open) X(openat, openat) X(openat2, openat2) X(creat, creat) \
	X(readlink, readlink) X(readlinkat, readlinkat) \
	X(stat, newstat) X(lstat, newlstat) X(newfstatat, newfstatat) X(statx, statx) \
	X(access, access) X(faccessat, faccessat) X(faccessat2, faccessat2) \
	X(uname, newuname) X(ioctl, ioctl) \
	X(connect, connect) X(bind, bind) X(listen, listen) X(accept, accept) X(accept4, accept4) \
	X(write, write) X(writev, writev) X(sendto, sendto) X(sendmsg, sendmsg) X(sendmmsg, sendmmsg) \
	X(read, read) X(readv, readv) X(recvfrom, recvfrom) X(recvmsg, recvmsg) X(recvmmsg, recvmmsg) \
	/* Paths around the calls above (samples/evasion/). */ \
	X(sendfile, sendfile64) X(splice, splice) X(io_uring_setup, io_uring_setup)
#define AT_SYSCALLS_ENTER(X) X(close, close)
/* Mapping changes: forget where stack frames were found. */
#define AT_SYSCALLS_EXIT(X) \
	X(munmap, munmap) X(mremap, mremap) X(brk, brk) X(shmdt, shmdt) \
	X(remap_file_pages, remap_file_pages) X(mmap, mmap)

#endif /* AGENTTRACE_BPF_REGISTRY_H */
