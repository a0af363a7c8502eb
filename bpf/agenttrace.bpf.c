// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agenttrace kernel side: follows a process tree and records what it does.
 *
 * Filtering happens first: every program asks the traced-process map (or the
 * trace_all switch) before it copies anything, so untraced processes cost one
 * hash lookup. Records are built in a per-CPU scratch buffer and copied into
 * the ring buffer at their real size; wake-ups are batched (the collector
 * also polls on a timer). Every lost record is counted per kind.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "agenttrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define AT_EMPTY_PATH 0x1000
#define NAME_MAX 255

/* Set by the collector between open and load. */
const volatile bool capture_values = false;  /* --show-values */
const volatile bool trace_all = false;       /* watch the whole host */
const volatile __u32 self_pid = 0;           /* never trace the collector itself */
const volatile __u64 wakeup_bytes = 1 << 20; /* wake the collector past this much data */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by --ringbuf-size */
} events SEC(".maps");

/* Thread group ids being traced. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} traced SEC(".maps");

/* Arguments saved at syscall entry, consumed at syscall exit. */
struct stash {
	__u64 args[4];
	__u16 source;
	__u16 kind;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct stash);
} stash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct at_counters);
} counters SEC(".maps");

struct scratch_buf {
	__u8 data[AT_SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_buf);
} scratch SEC(".maps");

static __always_inline struct at_counters *get_counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline bool is_traced(__u32 tgid)
{
	if (tgid == self_pid)
		return false;
	if (trace_all)
		return true;
	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

static __always_inline bool current_traced(void)
{
	return is_traced(bpf_get_current_pid_tgid() >> 32);
}

static __always_inline void fill_header(struct at_header *h, __u16 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	h->kind = kind;
	h->flags = 0;
	h->size = 0;
	h->mono_ns = bpf_ktime_get_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->reserved = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									       : BPF_RB_NO_WAKEUP;
}

static __always_inline void count_sent(struct at_header *h, long err)
{
	struct at_counters *c = get_counters();
	__u32 k = h->kind & (AT_KIND_MAX - 1);

	if (!c)
		return;
	if (err) {
		__sync_fetch_and_add(&c->kinds[k].dropped, 1);
		return;
	}
	__sync_fetch_and_add(&c->kinds[k].emitted, 1);
	if (h->flags & AT_F_READ_FAILED)
		__sync_fetch_and_add(&c->kinds[k].read_failed, 1);
	if (h->flags & (AT_F_PATH_TRUNCATED | AT_F_DIR_TRUNCATED | AT_F_ARGS_TRUNCATED |
			AT_F_VALUE_TRUNCATED))
		__sync_fetch_and_add(&c->kinds[k].truncated, 1);
}

/* Copies a record built in scratch into the ring buffer at its real size. */
static __always_inline void submit_scratch(struct at_header *h, __u32 size)
{
	if (size > AT_SCRATCH_SIZE)
		size = AT_SCRATCH_SIZE;
	h->size = size;
	count_sent(h, bpf_ringbuf_output(&events, h, size, wakeup_flags()));
}

static __always_inline struct at_header *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * Reads a NUL-terminated user string into buf; returns its length without the
 * NUL. Sets AT_F_PATH_TRUNCATED when it filled max bytes, AT_F_READ_FAILED when
 * the read failed.
 */
static __always_inline __u32 read_user_path(struct at_header *h, void *buf, const void *src)
{
	long n = bpf_probe_read_user_str(buf, AT_PATH_MAX, src);

	if (n <= 0) {
		h->flags |= AT_F_READ_FAILED;
		return 0;
	}
	if (n == AT_PATH_MAX)
		h->flags |= AT_F_PATH_TRUNCATED;
	return n - 1;
}

/* ------------------------------------------------------------------------ */
/* Directory resolution for relative paths                                  */

/*
 * Writes the names of the directories from a dentry up to the process root,
 * innermost first, each NUL-terminated, into the scratch buffer. Crosses mount
 * points the way d_path() does. The walk runs under bpf_loop() so the verifier
 * checks one step, not every unrolled level.
 */
struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 base;   /* where the components start in the scratch buffer */
	__u32 off;    /* bytes written so far */
	__u16 levels;
	__u16 done;
	__u16 failed;
};

static long walk_dir_step(__u32 index, struct walk_ctx *w)
{
	/* Locals, not w->field, inside BPF_CORE_READ: it would relocate walk_ctx. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root, *parent;
	const unsigned char *name;
	__u8 *buf;
	long n;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = 1;
		return 1;
	}
	mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (mnt_parent == mnt) { /* the top of the mount tree */
			w->done = 1;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = (void *)mnt_parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	if (w->levels >= AT_DIR_DEPTH || w->off > AT_DIR_MAX - (NAME_MAX + 1))
		return 1;
	buf = (__u8 *)get_scratch();
	if (!buf)
		return 1;
	name = BPF_CORE_READ(dentry, d_name.name);
	n = bpf_probe_read_kernel_str(buf + ((w->base + w->off) & (AT_SCRATCH_SIZE / 2 - 1)),
				      NAME_MAX + 1, name);
	if (n <= 0) {
		w->failed = 1;
		return 1;
	}
	w->off += n;
	w->levels++;
	w->dentry = parent;
	return 0;
}

static __always_inline __u32 walk_dir(struct at_header *h, __u32 base, struct dentry *dentry,
				      struct vfsmount *vfsmnt, __u16 *depth)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct walk_ctx w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.base = base,
	};

	bpf_loop(AT_DIR_DEPTH * 2, walk_dir_step, &w, 0);
	if (w.failed)
		h->flags |= AT_F_READ_FAILED;
	if (!w.done)
		h->flags |= AT_F_DIR_TRUNCATED;
	*depth = w.levels;
	return w.off;
}

/* Base directory of a relative path: the working directory or dirfd's file. */
static __always_inline __u32 resolve_dir(struct at_header *h, __u32 base, __s32 dirfd,
					 __u16 *depth)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct dentry *dentry;
	struct vfsmount *mnt;

	if (dirfd == AT_FDCWD) {
		dentry = BPF_CORE_READ(task, fs, pwd.dentry);
		mnt = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *file = NULL;

		if (dirfd < 0 || (unsigned int)dirfd >= max_fds)
			goto unknown;
		bpf_probe_read_kernel(&file, sizeof(file), &fds[dirfd]);
		if (!file)
			goto unknown;
		dentry = BPF_CORE_READ(file, f_path.dentry);
		mnt = BPF_CORE_READ(file, f_path.mnt);
	}
	if (!dentry || !mnt)
		goto unknown;
	return walk_dir(h, base, dentry, mnt, depth);
unknown:
	h->flags |= AT_F_DIR_UNKNOWN;
	*depth = 0;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Process tree                                                             */

SEC("raw_tp/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	struct at_fork *e;

	if (!is_traced(parent_tgid))
		return 0;
	if (child_tgid != parent_tgid && !trace_all) {
		__u32 v = AT_TRACED_CHILD;

		if (bpf_map_update_elem(&traced, &child_tgid, &v, BPF_ANY)) {
			struct at_counters *c = get_counters();

			if (c)
				__sync_fetch_and_add(&c->filter_full, 1);
		}
	}
	e = (struct at_fork *)get_scratch();
	if (!e)
		return 0;
	fill_header(&e->h, AT_KIND_FORK);
	e->child_pid = child_tgid;
	e->child_tid = BPF_CORE_READ(child, pid);
	e->is_thread = child_tgid == parent_tgid;
	e->reserved = 0;
	submit_scratch(&e->h, sizeof(*e));
	return 0;
}

SEC("tp/sched/sched_process_exec")
int handle_sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct at_exec *e;
	__u8 *buf;
	__u32 off, fname_off;
	long n;

	if (!current_traced())
		return 0;
	e = (struct at_exec *)get_scratch();
	if (!e)
		return 0;
	buf = (__u8 *)e;
	fill_header(&e->h, AT_KIND_EXEC);
	e->old_tid = ctx->old_pid;
	e->reserved = 0;

	fname_off = ctx->__data_loc_filename & 0xFFFF;
	n = bpf_probe_read_kernel_str(buf + sizeof(*e), AT_PATH_MAX, (void *)ctx + fname_off);
	if (n <= 0) {
		e->h.flags |= AT_F_READ_FAILED;
		n = 1;
	} else if (n == AT_PATH_MAX) {
		e->h.flags |= AT_F_PATH_TRUNCATED;
	}
	if (n > AT_PATH_MAX)
		n = AT_PATH_MAX;
	e->filename_len = n - 1;
	off = sizeof(*e) + e->filename_len;

	/* The binary the kernel really runs (for a script, its interpreter) and
	 * the working directory, so relative names can be made absolute. */
	struct file *exe_file = BPF_CORE_READ(task, mm, exe_file);
	__u16 depth = 0;
	__u32 dn = 0;

	if (exe_file)
		dn = walk_dir(&e->h, off, BPF_CORE_READ(exe_file, f_path.dentry),
			      BPF_CORE_READ(exe_file, f_path.mnt), &depth);
	if (dn > AT_DIR_MAX)
		dn = AT_DIR_MAX;
	e->exe_len = dn;
	off += dn;
	dn = walk_dir(&e->h, off, BPF_CORE_READ(task, fs, pwd.dentry),
		      BPF_CORE_READ(task, fs, pwd.mnt), &depth);
	if (dn > AT_DIR_MAX)
		dn = AT_DIR_MAX;
	e->cwd_len = dn;
	off += dn;

	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u64 total = arg_end > arg_start ? arg_end - arg_start : 0;
	__u32 len = total > AT_ARGS_MAX ? AT_ARGS_MAX : total;

	e->args_total = total > 0xFFFFFFFF ? 0xFFFFFFFF : total;
	if (total > AT_ARGS_MAX)
		e->h.flags |= AT_F_ARGS_TRUNCATED;
	if (off > sizeof(*e) + AT_PATH_MAX + 2 * AT_DIR_MAX)
		off = sizeof(*e) + AT_PATH_MAX + 2 * AT_DIR_MAX;
	if (len > AT_ARGS_MAX)
		len = AT_ARGS_MAX;
	if (len && bpf_probe_read_user(buf + off, len, (void *)arg_start)) {
		e->h.flags |= AT_F_READ_FAILED;
		len = 0;
	}
	e->args_len = len;
	submit_scratch(&e->h, off + len);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_sched_process_exit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct at_exit *e;

	if (!is_traced(tgid))
		return 0;
	/* A thread that dies inside a syscall leaves no exit to consume it. */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&stash, &tid);
	/* signal->live reaches 0 for the last thread of the group, before this
	 * tracepoint fires (do_exit()). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	e = (struct at_exit *)get_scratch();
	if (e) {
		fill_header(&e->h, AT_KIND_EXIT);
		e->status = BPF_CORE_READ(task, exit_code);
		e->reserved = 0;
		submit_scratch(&e->h, sizeof(*e));
	}
	if (!trace_all)
		bpf_map_delete_elem(&traced, &tgid);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Syscalls with a path: entry saves arguments, exit records with result.   */

static __always_inline int save_args(__u16 kind, __u16 source, __u64 a0, __u64 a1, __u64 a2,
				     __u64 a3)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash s = {
		.args = { a0, a1, a2, a3 },
		.source = source,
		.kind = kind,
	};

	/* callers have checked the filter */
	if (bpf_map_update_elem(&stash, &tid, &s, BPF_ANY)) {
		struct at_counters *c = get_counters();

		if (c)
			__sync_fetch_and_add(&c->stash_full, 1);
	}
	return 0;
}

/*
 * Emits a path event. args: dirfd, path, flags, mode (or the readlink buffer
 * in place of flags). An empty path with AT_EMPTY_PATH is fstat() of an
 * already-recorded fd, not a lookup, and is skipped.
 */
static __always_inline int emit_path_event(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *s = bpf_map_lookup_elem(&stash, &tid);
	struct at_path_event *e;
	__u8 *buf;
	__u32 off, plen;

	if (!s)
		return 0;
	e = (struct at_path_event *)get_scratch();
	if (!e)
		goto out;
	buf = (__u8 *)e;
	fill_header(&e->h, s->kind);
	e->result = ret;
	e->dirfd = (__s32)s->args[0];
	e->source = s->source;
	e->flags = s->kind == AT_KIND_READLINK ? 0 : (__u32)s->args[2];
	e->mode = (__u32)s->args[3];
	e->dir_len = 0;
	e->dir_depth = 0;
	e->target_len = 0;
	e->reserved = 0;

	e->path_len = read_user_path(&e->h, buf + sizeof(*e), (const void *)s->args[1]);
	if (e->path_len == 0 && (e->flags & AT_EMPTY_PATH) &&
	    (s->kind == AT_KIND_STAT || s->kind == AT_KIND_ACCESS))
		goto out;
	/* Explicit clamps keep every offset provably inside the scratch buffer:
	 * fixed part + path + directory + readlink target < AT_SCRATCH_SIZE. */
	plen = e->path_len;
	if (plen > AT_PATH_MAX - 1)
		plen = AT_PATH_MAX - 1;
	off = sizeof(*e) + plen;

	if (plen > 0 && buf[sizeof(*e)] != '/') {
		__u16 depth = 0;
		__u32 n = resolve_dir(&e->h, off, e->dirfd, &depth);

		if (n > AT_DIR_MAX)
			n = AT_DIR_MAX;
		e->dir_len = n;
		e->dir_depth = depth;
		off += n;
	}

	if (s->kind == AT_KIND_READLINK && ret > 0) {
		__u32 len = ret > AT_PATH_MAX ? AT_PATH_MAX : ret;

		if (off > sizeof(*e) + AT_PATH_MAX + AT_DIR_MAX)
			off = sizeof(*e) + AT_PATH_MAX + AT_DIR_MAX;
		if (len > AT_PATH_MAX)
			len = AT_PATH_MAX;
		if (bpf_probe_read_user(buf + off, len, (const void *)s->args[2]) == 0) {
			e->target_len = len;
			off += len;
		} else {
			e->h.flags |= AT_F_READ_FAILED;
		}
	}
	submit_scratch(&e->h, off);
out:
	bpf_map_delete_elem(&stash, &tid);
	return 0;
}

/*
 * Syscalls reach their handlers through two raw tracepoints, sys_enter and
 * sys_exit, and a tail call keyed by syscall number: one attachment each
 * instead of one per syscall. Detaching a syscall tracepoint waits for an RCU
 * grace period (tens of milliseconds on Linux 6.14+), so dozens of them made
 * agenttrace slow to exit; a syscall without a handler costs one failed tail
 * call. The collector fills the two program arrays.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, AT_SYSCALL_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} sys_enter_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, AT_SYSCALL_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} sys_exit_calls SEC(".maps");

#define TS_COMPAT 0x0002

/* 32-bit (ia32) syscalls have their own numbers; they are counted, not
 * decoded as if they were 64-bit ones. */
static __always_inline bool compat_syscall(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
}

SEC("raw_tp/sys_enter")
int handle_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long id = (long)ctx->args[1];

	if (compat_syscall()) {
		if (current_traced()) {
			struct at_counters *c = get_counters();

			if (c)
				__sync_fetch_and_add(&c->compat_syscalls, 1);
		}
		return 0;
	}
	bpf_tail_call(ctx, &sys_enter_calls, (__u32)id);
	return 0;
}

SEC("raw_tp/sys_exit")
int handle_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long id = BPF_CORE_READ(regs, orig_ax);

	if (compat_syscall())
		return 0;
	bpf_tail_call(ctx, &sys_exit_calls, (__u32)id);
	return 0;
}

/* The syscall's first four arguments (x86-64 calling convention). */
struct sys_args {
	__u64 a[4];
};

static __always_inline struct sys_args get_args(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	struct sys_args r = {
		.a = { BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx),
		       BPF_CORE_READ(regs, r10) },
	};
	return r;
}

#define SYS_ENTER(name) \
	SEC("raw_tp") int handle_sys_enter_##name(struct bpf_raw_tracepoint_args *ctx)
#define SYS_EXIT(name) \
	SEC("raw_tp") int handle_sys_exit_##name(struct bpf_raw_tracepoint_args *ctx)
#define SYS_EXIT_PATH(name)                                                           \
	SEC("raw_tp") int handle_sys_exit_##name(struct bpf_raw_tracepoint_args *ctx) \
	{                                                                             \
		return emit_path_event((long)ctx->args[1]);                           \
	}

/* Handlers are reached only by tail call; they check the filter themselves. */
#define ARGS_OR_OUT()               \
	struct sys_args s;          \
	if (!current_traced())      \
		return 0;           \
	s = get_args(ctx)

/* open(path, flags, mode) */
SYS_ENTER(open)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_OPEN, AT_SRC_OPEN, (__u64)AT_FDCWD, s.a[0], s.a[1], s.a[2]);
}
SYS_EXIT_PATH(open)

/* openat(dirfd, path, flags, mode) */
SYS_ENTER(openat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_OPEN, AT_SRC_OPENAT, s.a[0], s.a[1], s.a[2], s.a[3]);
}
SYS_EXIT_PATH(openat)

/* openat2(dirfd, path, struct open_how *how, size) */
SYS_ENTER(openat2)
{
	struct open_how how = {};

	ARGS_OR_OUT();
	bpf_probe_read_user(&how, sizeof(how), (void *)s.a[2]);
	return save_args(AT_KIND_OPEN, AT_SRC_OPENAT2, s.a[0], s.a[1], how.flags, how.mode);
}
SYS_EXIT_PATH(openat2)

/* creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) */
SYS_ENTER(creat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_OPEN, AT_SRC_CREAT, (__u64)AT_FDCWD, s.a[0], 0100 | 01 | 01000,
			 s.a[1]);
}
SYS_EXIT_PATH(creat)

/* readlink(path, buf, size): buf travels in the flags slot */
SYS_ENTER(readlink)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_READLINK, AT_SRC_READLINK, (__u64)AT_FDCWD, s.a[0], s.a[1], s.a[2]);
}
SYS_EXIT_PATH(readlink)

/* readlinkat(dirfd, path, buf, size) */
SYS_ENTER(readlinkat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_READLINK, AT_SRC_READLINKAT, s.a[0], s.a[1], s.a[2], s.a[3]);
}
SYS_EXIT_PATH(readlinkat)

/* stat(path, statbuf) */
SYS_ENTER(newstat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_STAT, AT_SRC_STAT, (__u64)AT_FDCWD, s.a[0], 0, 0);
}
SYS_EXIT_PATH(newstat)

/* lstat(path, statbuf) */
SYS_ENTER(newlstat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_STAT, AT_SRC_LSTAT, (__u64)AT_FDCWD, s.a[0],
			 0x100 /* AT_SYMLINK_NOFOLLOW */, 0);
}
SYS_EXIT_PATH(newlstat)

/* newfstatat(dirfd, path, statbuf, flags) */
SYS_ENTER(newfstatat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_STAT, AT_SRC_NEWFSTATAT, s.a[0], s.a[1], s.a[3], 0);
}
SYS_EXIT_PATH(newfstatat)

/* statx(dirfd, path, flags, mask, statxbuf) */
SYS_ENTER(statx)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_STAT, AT_SRC_STATX, s.a[0], s.a[1], s.a[2], s.a[3]);
}
SYS_EXIT_PATH(statx)

/* access(path, mode) */
SYS_ENTER(access)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_ACCESS, AT_SRC_ACCESS, (__u64)AT_FDCWD, s.a[0], 0, s.a[1]);
}
SYS_EXIT_PATH(access)

/* faccessat(dirfd, path, mode) */
SYS_ENTER(faccessat)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_ACCESS, AT_SRC_FACCESSAT, s.a[0], s.a[1], 0, s.a[2]);
}
SYS_EXIT_PATH(faccessat)

/* faccessat2(dirfd, path, mode, flags) */
SYS_ENTER(faccessat2)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_ACCESS, AT_SRC_FACCESSAT2, s.a[0], s.a[1], s.a[3], s.a[2]);
}
SYS_EXIT_PATH(faccessat2)

/* ------------------------------------------------------------------------ */
/* uname                                                                    */

SYS_ENTER(newuname)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_UNAME, AT_SRC_UNAME, s.a[0], 0, 0, 0);
}

SYS_EXIT(newuname)
{
	long ret = (long)ctx->args[1];
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *s = bpf_map_lookup_elem(&stash, &tid);
	struct new_utsname *uts;
	struct at_uname *e;
	__u8 *buf;
	long n;

	if (!s)
		return 0;
	uts = (struct new_utsname *)s->args[0];
	e = (struct at_uname *)get_scratch();
	if (!e)
		goto out;
	buf = (__u8 *)e;
	fill_header(&e->h, AT_KIND_UNAME);
	e->result = ret;
	e->nodename_len = 0;
	e->release_len = 0;
	e->reserved = 0;
	if (ret == 0) {
		n = bpf_probe_read_user_str(buf + sizeof(*e), AT_UTS_LEN, uts->nodename);
		if (n > 0)
			e->nodename_len = n - 1;
		else
			e->h.flags |= AT_F_READ_FAILED;
		n = bpf_probe_read_user_str(buf + sizeof(*e) + (e->nodename_len & 127), AT_UTS_LEN,
					    uts->release);
		if (n > 0)
			e->release_len = n - 1;
		else
			e->h.flags |= AT_F_READ_FAILED;
	}
	submit_scratch(&e->h, sizeof(*e) + (e->nodename_len & 127) + (e->release_len & 127));
out:
	bpf_map_delete_elem(&stash, &tid);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Environment: uprobes on the C library's getenv and secure_getenv.        */

/*
 * Uprobe programs run with migration, not preemption, disabled, so two of
 * them may interleave on one CPU: they reserve ring-buffer space directly
 * instead of sharing the per-CPU scratch buffer.
 */
static __always_inline int getenv_enter(const char *name, __u16 source)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct stash *prev;

	if (!is_traced(id >> 32))
		return 0;
	/* glibc's secure_getenv() calls getenv(): keep the outer call. */
	prev = bpf_map_lookup_elem(&stash, &tid);
	if (prev && prev->kind == AT_KIND_GETENV && prev->args[0] == (__u64)name)
		return 0;
	return save_args(AT_KIND_GETENV, source, (__u64)name, 0, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(handle_getenv, const char *name)
{
	return getenv_enter(name, AT_SRC_GETENV);
}

SEC("uprobe")
int BPF_KPROBE(handle_secure_getenv, const char *name)
{
	return getenv_enter(name, AT_SRC_SECURE_GETENV);
}

#define GETENV_RECORD (sizeof(struct at_getenv) + AT_ENV_NAME_MAX)
#define GETENV_RECORD_VALUES (GETENV_RECORD + AT_ENV_VALUE_MAX)

static __always_inline void fill_getenv(struct at_getenv *e, struct stash *s, const char *value,
					 bool with_value)
{
	long n;

	fill_header(&e->h, AT_KIND_GETENV);
	e->source = s->source;
	e->found = value != NULL;
	e->value_len = 0;
	n = bpf_probe_read_user_str((__u8 *)(e + 1), AT_ENV_NAME_MAX, (const char *)s->args[0]);
	if (n <= 0) {
		e->h.flags |= AT_F_READ_FAILED;
		n = 1;
	} else if (n == AT_ENV_NAME_MAX) {
		e->h.flags |= AT_F_PATH_TRUNCATED;
	}
	e->name_len = n - 1;
	if (with_value && value) {
		__u32 off = (e->name_len & (AT_ENV_NAME_MAX - 1));

		n = bpf_probe_read_user_str((__u8 *)(e + 1) + off, AT_ENV_VALUE_MAX, value);
		if (n <= 0) {
			e->h.flags |= AT_F_READ_FAILED;
		} else {
			e->h.flags |= AT_F_VALUE_CAPTURED;
			if (n == AT_ENV_VALUE_MAX)
				e->h.flags |= AT_F_VALUE_TRUNCATED;
			e->value_len = n - 1;
		}
	}
	e->h.size = sizeof(*e) + e->name_len + e->value_len;
}

SEC("uretprobe")
int BPF_KRETPROBE(handle_getenv_return, const char *value)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *s = bpf_map_lookup_elem(&stash, &tid);
	struct at_getenv *e;

	if (!s || s->kind != AT_KIND_GETENV)
		return 0;
	if (capture_values) {
		e = bpf_ringbuf_reserve(&events, GETENV_RECORD_VALUES, 0);
		if (e) {
			fill_getenv(e, s, value, true);
			count_sent(&e->h, 0);
			bpf_ringbuf_submit(e, wakeup_flags());
		}
	} else {
		e = bpf_ringbuf_reserve(&events, GETENV_RECORD, 0);
		if (e) {
			fill_getenv(e, s, value, false);
			count_sent(&e->h, 0);
			bpf_ringbuf_submit(e, wakeup_flags());
		}
	}
	if (!e) {
		struct at_header h = { .kind = AT_KIND_GETENV };

		count_sent(&h, -1);
	}
	bpf_map_delete_elem(&stash, &tid);
	return 0;
}
