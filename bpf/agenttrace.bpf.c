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
#include <bpf/bpf_endian.h>
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
const volatile __u64 capture_bytes = 1 << 20; /* payload budget per connection and direction */
const volatile __u64 conn_key = 0;           /* hides kernel addresses in connection ids */
const volatile __u32 stack_kinds = 0;        /* 1 << kind: records that carry the user stack */
const volatile bool watch_filtered = false;  /* watch --comm/--exe: start tracing at a matching exec */

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

/* watch --comm NAME: process names (the comm after exec, NUL-padded). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[AT_COMM_LEN]);
	__type(value, __u8);
} watch_comms SEC(".maps");

/* watch --exe PATH: executables by device and inode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct at_file_id);
	__type(value, __u8);
} watch_exes SEC(".maps");

/* Arguments saved at syscall entry, consumed at syscall exit. */
struct stash {
	__u64 args[4];
	__u16 source;
	__u16 kind;
	__u32 reserved;
	__u64 extra; /* a fifth argument, or the socket found at entry */
};

/* Per thread, in the task itself: no hashing and no shared lock on the
 * path every traced syscall takes. kind == AT_KIND_NONE means empty. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stash);
} stash SEC(".maps");

/* The calling thread's saved arguments, or NULL. */
static __always_inline struct stash *stash_get(void)
{
	struct stash *s = bpf_task_storage_get(&stash, bpf_get_current_task_btf(), 0, 0);

	return s && s->kind != AT_KIND_NONE ? s : NULL;
}

/* Empties the calling thread's saved arguments. */
static __always_inline void stash_drop(void)
{
	struct stash *s = bpf_task_storage_get(&stash, bpf_get_current_task_btf(), 0, 0);

	if (s)
		s->kind = AT_KIND_NONE;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct at_counters);
} counters SEC(".maps");

/* Uprobe state, keyed by tid and the family of function, so a getenv inside
 * getaddrinfo, or a write inside SSL_write, does not clobber its caller. */
#define USTASH_GETENV 1ull
#define USTASH_DNS 2ull
#define USTASH_SSL 3ull
#define USTASH_KEY(tid, cls) ((__u64)(tid) | ((cls) << 32))

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct stash);
} ustash SEC(".maps");

/* Entries are removed at return and, for a thread that never returns (it
 * was killed inside the call), at its exit (ustash_drop_thread), so the map
 * holds only calls in progress; an entry that still cannot be saved is
 * counted per kind (ustash_put). */

/*
 * The state of emitting one message lives in a map entry per thread, not on
 * the stack: the verifier then sees the same (unknown) values at each step of
 * the chunk loop and checks the step once, where stack counters that differ
 * at every iteration made it explore each one. Per thread, not per CPU,
 * because uprobe programs can be preempted.
 */
struct emit_state {
	struct at_data_event t; /* template of every record of the message */
	__u64 iov;              /* user iovec array; 0 for a single buffer */
	__u64 base;             /* current user buffer */
	__u64 left;             /* bytes left in it */
	__u64 to_copy;          /* bytes still to copy for this message */
	__u64 copied;
	__u32 iov_index;
	__u32 iov_count;
	__u16 chunks;
	__u16 failed;           /* a read failed or the ring was full */
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct emit_state);
} emit_states SEC(".maps");

/* A zeroed emit_state to create entries from (never written). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct emit_state);
} emit_zero SEC(".maps");



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

/* Saves a uprobe's entry state; a full map is counted, never silent. */
static __always_inline void ustash_put(__u64 key, struct stash *s)
{
	if (bpf_map_update_elem(&ustash, &key, s, BPF_ANY) != 0) {
		struct at_counters *c = get_counters();

		if (c)
			__sync_fetch_and_add(&c->ustash_full[s->kind & (AT_KIND_MAX - 1)], 1);
	}
}

/* The exiting thread's calls in progress: counted as unfinished, removed. */
static __always_inline void ustash_drop_thread(__u32 tid)
{
	__u64 classes[3] = { USTASH_GETENV, USTASH_DNS, USTASH_SSL };

#pragma unroll
	for (int i = 0; i < 3; i++) {
		__u64 key = USTASH_KEY(tid, classes[i]);
		struct stash *s = bpf_map_lookup_elem(&ustash, &key);

		if (!s)
			continue;
		struct at_counters *c = get_counters();

		if (c)
			__sync_fetch_and_add(&c->unfinished[s->kind & (AT_KIND_MAX - 1)], 1);
		bpf_map_delete_elem(&ustash, &key);
	}
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

/*
 * Every system call of every task on the host passes sys_enter and sys_exit.
 * The answer of `traced` is kept in the task itself (task storage: a pointer
 * away, no hash of a pid), stamped with traced_gen; whoever adds a process
 * to `traced` while it may already be running (the collector's trace_pid, a
 * watched exec) moves traced_gen on, so a stale "not traced" is asked again.
 * A stale "traced" (the group is leaving) only lets the handler's own check
 * say no. New tasks ask once.
 */
struct at_task_state {
	__u32 gen;
	__u32 traced;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct at_task_state);
} task_state SEC(".maps");

volatile __u32 traced_gen = 1; /* a new task's zeroed state never matches */

static __always_inline void traced_changed(void)
{
	__sync_fetch_and_add(&traced_gen, 1);
}

static __always_inline bool current_traced_cached(void)
{
	struct task_struct *task;
	struct at_task_state *st;
	__u32 gen = traced_gen;
	bool traced_now;

	if (trace_all)
		return current_traced();
	task = bpf_get_current_task_btf();
	st = bpf_task_storage_get(&task_state, task, 0, 0);
	if (st && st->gen == gen)
		return st->traced;
	traced_now = current_traced();
	st = bpf_task_storage_get(&task_state, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (st) {
		st->gen = gen;
		st->traced = traced_now;
	}
	return traced_now;
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

static __always_inline bool wants_stack(__u16 kind)
{
	return kind < 32 && (stack_kinds & (1u << kind));
}

/* Where one address lies in the current process's memory map. */
struct vma_query {
	__u64 ip;
	__u64 file_offset;
	__u64 ino;
	__u32 dev;
	__u32 kind;
};

static long vma_of_frame(struct task_struct *task, struct vm_area_struct *vma, struct vma_query *q)
{
	struct file *file = BPF_CORE_READ(vma, vm_file);

	if (!file) {
		q->kind = AT_FRAME_ANON;
		return 0;
	}
	q->file_offset = q->ip - BPF_CORE_READ(vma, vm_start) + (BPF_CORE_READ(vma, vm_pgoff) << 12);
	q->ino = BPF_CORE_READ(file, f_inode, i_ino);
	q->dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	q->kind = AT_FRAME_FILE;
	return 0;
}

/*
 * Where addresses lie, remembered per address space and page: bpf_find_vma()
 * takes the mmap lock and walks the maple tree, about 0.7 us here, and a
 * stack has up to 32 frames, mostly the same pages event after event. Any
 * change that can put another mapping under a remembered page (munmap,
 * mremap, mmap with MAP_FIXED, brk, shmdt; exec and the last exit, which
 * free an address space whose address can come back) bumps vma_epoch at
 * the syscall's exit, after the change, and so forgets every entry.
 */
struct vma_cache_key {
	__u64 mm;
	__u64 page;
};

struct vma_cache_val {
	__u64 epoch;
	__u64 delta; /* file offset - address, for the whole mapping (files only) */
	__u64 ino;
	__u32 dev;
	__u32 kind;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vma_cache_key);
	__type(value, struct vma_cache_val);
} vma_cache SEC(".maps");

volatile __u64 vma_epoch = 0;

static __always_inline void forget_mappings(void)
{
	__sync_fetch_and_add(&vma_epoch, 1);
}

/* Fills q (q->ip set) with the mapping the address lies in. A global
 * function: the verifier checks it once, not at every handler that inlines
 * a stack. */
__noinline int locate_frame(struct vma_query *q)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vma_cache_key key = { .mm = (__u64)task->mm };
	__u64 epoch = vma_epoch; /* read before the lookup it will vouch for */
	struct vma_cache_val *hit, v = {};
	struct vma_query local = {}; /* bpf_find_vma() wants its context on the stack */

	if (!q)
		return 0;
	key.page = q->ip >> 12;
	hit = bpf_map_lookup_elem(&vma_cache, &key);
	if (hit && hit->epoch == epoch) {
		q->kind = hit->kind;
		q->file_offset = hit->kind == AT_FRAME_FILE ? q->ip + hit->delta : 0;
		q->ino = hit->ino;
		q->dev = hit->dev;
		return 0;
	}
	local.ip = q->ip;
	local.kind = AT_FRAME_NONE;
	if (bpf_find_vma(task, local.ip, vma_of_frame, &local, 0)) {
		q->kind = AT_FRAME_UNKNOWN; /* busy or unmapped: not remembered */
		return 0;
	}
	*q = local;
	v.epoch = epoch;
	v.delta = q->kind == AT_FRAME_FILE ? q->file_offset - q->ip : 0;
	v.ino = q->ino;
	v.dev = q->dev;
	v.kind = q->kind;
	bpf_map_update_elem(&vma_cache, &key, &v, BPF_ANY);
	return 0;
}

struct frames_ctx {
	__u8 *base;  /* the stack: addresses in, frames out */
	__u32 count;
};

/* Widens address k (8 bytes at base + 8k) into frame k (32 bytes at
 * base + 32k), last first, so no address is overwritten before it is read. */
static long expand_frame(__u32 i, struct frames_ctx *c)
{
	__u32 k = c->count - 1 - i;
	struct vma_query q = {};
	struct at_frame *f;

	if (k >= AT_STACK_MAX)
		return 1;
	/* Opaque to the compiler, so the verifier sees the bound on the
	 * register the address is computed from. */
	asm volatile("%0 &= 31" : "+r"(k));
	q.ip = *(__u64 *)(c->base + k * 8);
	locate_frame(&q);
	f = (struct at_frame *)(c->base + k * sizeof(struct at_frame));
	f->ip = q.ip;
	f->file_offset = q.file_offset;
	f->ino = q.ino;
	f->dev = q.dev;
	f->kind = q.kind;
	return 0;
}

/* Places the `count` addresses at `at` in their mappings and writes the
 * tail; returns the bytes of the stack. */
static __always_inline __u32 finish_stack(struct at_header *h, __u8 *at, __u32 count, long error)
{
	struct frames_ctx c = { .base = at };
	struct at_stack_tail *t;

	if (count > AT_STACK_MAX)
		count = AT_STACK_MAX;
	c.count = count;
	bpf_loop(count, expand_frame, &c, 0);
	t = (struct at_stack_tail *)(at + count * sizeof(struct at_frame));
	t->count = count;
	t->error = error < 0 ? (__s32)error : 0;
	h->flags |= AT_F_STACK;
	return count * sizeof(struct at_frame) + sizeof(*t);
}

/*
 * Writes the calling thread's user stack and its tail at `at`, which has
 * AT_STACK_BYTES of room, and flags the record; returns the bytes written.
 * For a probed function the kernel walks frame pointers (and, in a
 * function-entry uprobe, adds the return address at the stack pointer).
 */
static __always_inline __u32 put_stack(void *ctx, struct at_header *h, __u8 *at)
{
	long n = bpf_get_stack(ctx, at, AT_STACK_MAX * 8, BPF_F_USER_STACK);

	return finish_stack(h, at, n > 0 ? (__u32)n / 8 : 0, n);
}

/* ---- stacks at a syscall -------------------------------------------------
 *
 * A C library's syscall wrapper keeps no frame pointer, and some (glibc's
 * open, with its variadic mode) use rbp for their own data: a frame-pointer
 * walk from a syscall loses the function that called the wrapper, or
 * wanders into data. The collector reads the library's call-frame
 * information and fills syscall_sites with where each wrapper keeps the
 * caller's return address and frame pointer; the walk starts from there.
 * Code without an entry (a static binary's own wrappers) falls back to the
 * kernel's frame-pointer walk.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct at_site_key);
	__type(value, struct at_site_frame);
} syscall_sites SEC(".maps");

struct fp_ctx {
	__u8 *at;
	__u64 fp;
	__u32 count;
};

/* One step of the frame-pointer walk: the frame at fp holds the next frame
 * pointer and a return address. */
static long fp_step(__u32 i, struct fp_ctx *c)
{
	__u64 frame[2];
	/* Step i writes address i + 2 (the walk starts with two and ends at
	 * the first step that adds none). Counting from the loop's index, not
	 * from c->count, keeps the count a range to the verifier: Linux 6.7+
	 * checks a bpf_loop callback as if called any number of times, and an
	 * exact count made every step a new state (handle_sys_exit_open passed
	 * the million-instruction limit on 6.18). */
	__u32 k = i + 2;

	if (k >= AT_STACK_MAX || bpf_probe_read_user(frame, sizeof(frame), (void *)c->fp))
		return 1;
	if (frame[1] < 0x1000)
		return 1;
	asm volatile("%0 &= 31" : "+r"(k));
	*(__u64 *)(c->at + k * 8) = frame[1];
	c->count = k + 1;
	if (frame[0] <= c->fp)
		return 1; /* frames go up the stack */
	c->fp = frame[0];
	return 0;
}

static __always_inline __u32 put_syscall_stack(struct bpf_raw_tracepoint_args *ctx, struct at_header *h,
					       __u8 *at)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u64 ip = BPF_CORE_READ(regs, ip), sp = BPF_CORE_READ(regs, sp);
	struct vma_query q = { .ip = ip };
	struct at_site_key key = {};
	struct at_site_frame *site;
	struct fp_ctx walk = { .at = at, .fp = BPF_CORE_READ(regs, bp) };
	__u64 ret = 0;

	locate_frame(&q);
	if (q.kind != AT_FRAME_FILE)
		return put_stack(ctx, h, at);
	key.ino = q.ino;
	key.dev = q.dev;
	key.offset = q.file_offset;
	site = bpf_map_lookup_elem(&syscall_sites, &key);
	if (!site || bpf_probe_read_user(&ret, sizeof(ret), (void *)(sp + site->cfa - 8)))
		return put_stack(ctx, h, at);
	if (site->rbp && bpf_probe_read_user(&walk.fp, sizeof(walk.fp), (void *)(sp + site->cfa + site->rbp)))
		return put_stack(ctx, h, at);
	*(__u64 *)at = ip;
	*(__u64 *)(at + 8) = ret;
	walk.count = 2;
	bpf_loop(AT_STACK_MAX - 2, fp_step, &walk, 0);
	return finish_stack(h, at, walk.count, 0);
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

/* A process that execs a watched name or executable is traced from here on,
 * with its descendants. */
static __always_inline bool watch_match(struct task_struct *task)
{
	char comm[AT_COMM_LEN] = {};
	struct file *exe_file = BPF_CORE_READ(task, mm, exe_file);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 v = AT_TRACED_MATCH;
	bool match;

	bpf_get_current_comm(comm, sizeof(comm));
	match = bpf_map_lookup_elem(&watch_comms, comm) != NULL;
	if (!match && exe_file) {
		struct inode *inode = BPF_CORE_READ(exe_file, f_inode);
		struct at_file_id id = {
			.dev = BPF_CORE_READ(inode, i_sb, s_dev),
			.ino = BPF_CORE_READ(inode, i_ino),
		};

		match = bpf_map_lookup_elem(&watch_exes, &id) != NULL;
	}
	if (!match)
		return false;
	if (bpf_map_update_elem(&traced, &tgid, &v, BPF_ANY)) {
		struct at_counters *c = get_counters();

		if (c)
			__sync_fetch_and_add(&c->filter_full, 1);
		return false;
	}
	traced_changed(); /* this task ran untraced until now */
	return true;
}

SEC("tp/sched/sched_process_exec")
int handle_sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct at_exec *e;
	__u8 *buf;
	__u32 off, fname_off;
	long n;

	if (!current_traced() && !(watch_filtered && watch_match(task)))
		return 0;
	if (stack_kinds)
		forget_mappings(); /* the old address space is freed */
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

	/* A thread that dies inside a syscall or a probed call leaves no exit
	 * to consume its entries. They are dropped before the traced check: the
	 * last thread of a group to reach zero `live` may pass this tracepoint
	 * before another exiting thread of the group does, and remove the group
	 * from `traced` first (seen once in 20480 threads killed inside getenv). */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	stash_drop();
	ustash_drop_thread(tid);
	bpf_map_delete_elem(&emit_states, &tid);
	if (!is_traced(tgid))
		return 0;
	/* signal->live reaches 0 for the last thread of the group, before this
	 * tracepoint fires (do_exit()). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	/* Two exiting threads of the group can both read `live` at 0: the one
	 * that removes the group from `traced` is the one that reports it. */
	if (!trace_all && bpf_map_delete_elem(&traced, &tgid) != 0)
		return 0;
	if (stack_kinds)
		forget_mappings(); /* its address space is freed and can come back */
	e = (struct at_exit *)get_scratch();
	if (e) {
		fill_header(&e->h, AT_KIND_EXIT);
		e->status = BPF_CORE_READ(task, exit_code);
		e->reserved = 0;
		submit_scratch(&e->h, sizeof(*e));
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Syscalls with a path: entry saves arguments, exit records with result.   */

static __always_inline int save_args_extra(__u16 kind, __u16 source, __u64 a0, __u64 a1,
					   __u64 a2, __u64 a3, __u64 extra)
{
	struct stash s = {
		.args = { a0, a1, a2, a3 },
		.source = source,
		.kind = kind,
		.extra = extra,
	};
	/* callers have checked the filter */
	struct stash *slot = bpf_task_storage_get(&stash, bpf_get_current_task_btf(), 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!slot) {
		struct at_counters *c = get_counters();

		if (c)
			__sync_fetch_and_add(&c->stash_full, 1);
		return 0;
	}
	*slot = s;
	return 0;
}

static __always_inline int save_args(__u16 kind, __u16 source, __u64 a0, __u64 a1, __u64 a2,
				     __u64 a3)
{
	return save_args_extra(kind, source, a0, a1, a2, a3, 0);
}

static __always_inline __u32 opened_file_path(struct at_header *h, __u32 base, int fd,
					      __u16 *depth);

/*
 * Emits a path event. args: dirfd, path, flags, mode (or the readlink buffer
 * in place of flags). An empty path with AT_EMPTY_PATH is fstat() of an
 * already-recorded fd, not a lookup, and is skipped.
 */
static __always_inline int emit_path_event(struct bpf_raw_tracepoint_args *ctx, long ret)
{
	struct stash *s = stash_get();
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
	e->real_len = 0;
	if (s->kind == AT_KIND_OPEN && ret >= 0) {
		__u16 depth = 0;
		__u32 n;

		if (off > sizeof(*e) + AT_PATH_MAX + AT_DIR_MAX)
			off = sizeof(*e) + AT_PATH_MAX + AT_DIR_MAX;
		n = opened_file_path(&e->h, off, (int)ret, &depth);
		if (n > AT_DIR_MAX)
			n = AT_DIR_MAX;
		e->real_len = n;
		off += n;
	}
	/* fixed part + path + directory + target < 16384, and the stack fits
	 * in the scratch buffer after any such record */
	if (wants_stack(e->h.kind) && off < AT_SCRATCH_SIZE / 2)
		off += put_syscall_stack(ctx, &e->h, buf + (off & (AT_SCRATCH_SIZE / 2 - 1)));
	submit_scratch(&e->h, off);
out:
	stash_drop();
	return 0;
}

/*
 * Syscalls reach their handlers through two raw tracepoints, sys_enter and
 * sys_exit, and a tail call keyed by syscall number: one attachment each
 * instead of one per syscall. An untraced task goes no further than its
 * cached answer (current_traced_cached). Detaching a syscall tracepoint waits for an RCU
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

	if (!current_traced_cached())
		return 0;
	if (compat_syscall()) {
		struct at_counters *c = get_counters();

		if (c && current_traced())
			__sync_fetch_and_add(&c->compat_syscalls, 1);
		return 0;
	}
	bpf_tail_call(ctx, &sys_enter_calls, (__u32)id);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Privileged and refused system calls                                      */

/* Which syscalls (x86-64 numbers) make an AT_KIND_SYSCALL record, and when;
 * the collector fills it and installs handle_sys_exit_watched for them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AT_SYSCALL_SLOTS);
	__type(key, __u32);
	__type(value, struct at_watched_syscall);
} watched_syscalls SEC(".maps");

/* Arguments stay in pt_regs at exit: the kernel restores them for user space. */
static __always_inline void emit_syscall(struct pt_regs *regs, __u32 nr, long ret, __u16 abi,
					 __u8 path_arg)
{
	struct at_syscall_event *e = (struct at_syscall_event *)get_scratch();
	__u64 path = 0;

	if (!e)
		return;
	fill_header(&e->h, AT_KIND_SYSCALL);
	e->result = ret;
	e->nr = nr;
	e->abi = abi;
	e->path_len = 0;
	if (abi == AT_ABI_IA32) {
		/* int 0x80 / sysenter: ebx, ecx, edx, esi */
		e->args[0] = (__u32)BPF_CORE_READ(regs, bx);
		e->args[1] = (__u32)BPF_CORE_READ(regs, cx);
		e->args[2] = (__u32)BPF_CORE_READ(regs, dx);
		e->args[3] = (__u32)BPF_CORE_READ(regs, si);
	} else {
		e->args[0] = BPF_CORE_READ(regs, di);
		e->args[1] = BPF_CORE_READ(regs, si);
		e->args[2] = BPF_CORE_READ(regs, dx);
		e->args[3] = BPF_CORE_READ(regs, r10);
	}
	if (path_arg >= 1 && path_arg <= 4)
		path = e->args[(path_arg - 1) & 3];
	if (path)
		e->path_len = read_user_path(&e->h, (__u8 *)e + sizeof(*e), (const void *)path);
	submit_scratch(&e->h, sizeof(*e) + (e->path_len & (AT_PATH_MAX - 1)));
}

SEC("raw_tp")
int handle_sys_exit_watched(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long ret = (long)ctx->args[1];
	__u32 nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	struct at_watched_syscall *w;

	if (!current_traced())
		return 0;
	w = bpf_map_lookup_elem(&watched_syscalls, &nr);
	if (!w || !w->when || (w->when == AT_WATCH_FAILED && ret >= 0))
		return 0;
	emit_syscall(regs, nr, ret, AT_ABI_X86_64, w->path_arg);
	return 0;
}

SEC("raw_tp/sys_exit")
int handle_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long id;

	if (!current_traced_cached())
		return 0;
	id = BPF_CORE_READ(regs, orig_ax);
	if (compat_syscall()) {
		/* Not decoded (see handle_sys_enter), but a failed one is named:
		 * a sandbox refuses the whole 32-bit ABI. */
		long ret = (long)ctx->args[1];

		if (ret < 0 && current_traced())
			emit_syscall(regs, (__u32)id, ret, AT_ABI_IA32, 0);
		return 0;
	}
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

/* Every handler has its row in bpf/registry.h's AT_SYSCALLS_*: the row's
 * constant is what SYS_ENTER and SYS_EXIT assert, so a handler nothing would
 * install fails the build ("use of undeclared identifier at_row_...").*/
#define AT_ROW_BOTH(call, name) enum { at_row_enter_##name = 1, at_row_exit_##name = 1 };
#define AT_ROW_ENTER(call, name) enum { at_row_enter_##name = 1 };
#define AT_ROW_EXIT(call, name) enum { at_row_exit_##name = 1 };
AT_SYSCALLS_BOTH(AT_ROW_BOTH)
AT_SYSCALLS_ENTER(AT_ROW_ENTER)
AT_SYSCALLS_EXIT(AT_ROW_EXIT)

#define SYS_ENTER(name)                                                  \
	_Static_assert(at_row_enter_##name, "a row in AT_SYSCALLS_*");  \
	SEC("raw_tp") int handle_sys_enter_##name(struct bpf_raw_tracepoint_args *ctx)
#define SYS_EXIT(name)                                                  \
	_Static_assert(at_row_exit_##name, "a row in AT_SYSCALLS_*");  \
	SEC("raw_tp") int handle_sys_exit_##name(struct bpf_raw_tracepoint_args *ctx)
#define SYS_EXIT_PATH(name)                                      \
	SYS_EXIT(name)                                           \
	{                                                        \
		return emit_path_event(ctx, (long)ctx->args[1]); \
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
	struct stash *s = stash_get();
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
	stash_drop();
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Host queries (AT_KIND_HOST_QUERY): the sendto, sendmsg and ioctl exits    */
/* build the record in the scratch buffer and tail-call one program that    */
/* adds the stack and submits it, so the stack walk is verified once, not   */
/* in each of them.                                                         */

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} host_query_tail SEC(".maps");

SEC("raw_tp")
int handle_host_query_submit(struct bpf_raw_tracepoint_args *ctx)
{
	struct at_host_query *e = (struct at_host_query *)get_scratch();
	__u32 off = sizeof(*e);

	if (!e || e->h.kind != AT_KIND_HOST_QUERY)
		return 0;
	if (wants_stack(AT_KIND_HOST_QUERY))
		off += put_syscall_stack(ctx, &e->h, (__u8 *)e + sizeof(*e));
	submit_scratch(&e->h, off);
	e->h.kind = AT_KIND_NONE;
	return 0;
}

/* Submits the host query built in the scratch buffer: with its stack through
 * the tail call, without it when the call cannot be made. */
static __always_inline void submit_host_query(struct bpf_raw_tracepoint_args *ctx)
{
	struct at_host_query *e;

	bpf_tail_call(ctx, &host_query_tail, 0);
	e = (struct at_host_query *)get_scratch();
	if (e && e->h.kind == AT_KIND_HOST_QUERY) {
		submit_scratch(&e->h, sizeof(*e));
		e->h.kind = AT_KIND_NONE;
	}
}

/* ------------------------------------------------------------------------ */
/* Interface ioctls (SIOCGIFCONF, SIOCGIFHWADDR, ...): the request range is   */
/* checked first, so a terminal's ioctls cost a register read.             */

#define AT_SIOCGIFNAME 0x8910
#define AT_SIOCGIFCONF 0x8912
#define AT_SIOCGIFINDEX 0x8933

static __always_inline bool interface_ioctl(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u32 request = (__u32)BPF_CORE_READ(regs, si);

	return request >= AT_SIOCGIF_FIRST && request <= AT_SIOCGIF_LAST && current_traced();
}

/* ioctl(fd, request, arg) */
SYS_ENTER(ioctl)
{
	struct sys_args s;

	if (!interface_ioctl(ctx))
		return 0;
	s = get_args(ctx);
	return save_args(AT_KIND_HOST_QUERY, AT_SRC_IOCTL, s.a[0], s.a[1], s.a[2], 0);
}

SYS_EXIT(ioctl)
{
	struct {
		char name[AT_IFNAMSIZ];
		__s32 index;
	} ifr = {};
	struct stash *s;
	struct at_host_query *e;

	if (!interface_ioctl(ctx))
		return 0;
	s = stash_get();
	if (!s || s->kind != AT_KIND_HOST_QUERY)
		return 0;
	e = (struct at_host_query *)get_scratch();
	if (!e)
		goto out;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, AT_KIND_HOST_QUERY);
	e->result = (long)ctx->args[1];
	e->fd = (__s32)s->args[0];
	e->request = (__u32)s->args[1];
	e->source = AT_SRC_IOCTL;
	if (e->request == AT_SIOCGIFCONF) {
		/* struct ifconf: the length of the answers comes first */
		if (bpf_probe_read_user(&ifr.index, sizeof(ifr.index), (const void *)s->args[2]) == 0)
			e->length = ifr.index;
	} else if (bpf_probe_read_user(&ifr, sizeof(ifr), (const void *)s->args[2]) == 0) {
		__builtin_memcpy(e->ifname, ifr.name, AT_IFNAMSIZ);
		if (e->request == AT_SIOCGIFNAME || e->request == AT_SIOCGIFINDEX)
			e->ifindex = ifr.index;
	} else {
		e->h.flags |= AT_F_READ_FAILED;
	}
	stash_drop();
	submit_host_query(ctx);
	return 0;
out:
	stash_drop();
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
	__u64 key = USTASH_KEY((__u32)id, USTASH_GETENV);
	struct stash *prev;
	struct stash s = {
		.args = { (__u64)name, (__u64)-1 }, /* NUL-terminated */
		.source = source,
		.kind = AT_KIND_GETENV,
	};

	if (!is_traced(id >> 32))
		return 0;
	/* glibc's secure_getenv() calls getenv(): keep the outer call. */
	prev = bpf_map_lookup_elem(&ustash, &key);
	if (prev && prev->args[0] == (__u64)name)
		return 0;
	ustash_put(key, &s);
	return 0;
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

/* Copies a string of the traced program to `dst`, at most max - 1 bytes:
 * NUL-terminated when len < 0 (C strings), else `len` bytes (a counted
 * string, as Bun's ZigString). Returns the bytes kept, or -1 when the read
 * failed; *truncated says whether the string was longer. */
static __always_inline long read_user_string(__u8 *dst, __u32 max, const char *src, long len,
					     bool *truncated)
{
	long n;

	*truncated = false;
	if (!src)
		return -1;
	if (len < 0) {
		n = bpf_probe_read_user_str(dst, max, src);
		if (n <= 0)
			return -1;
		*truncated = n == max;
		return n - 1;
	}
	if (len > max - 1) {
		len = max - 1;
		*truncated = true;
	}
	len &= max - 1; /* max is a power of two: bounds the copy for the verifier */
	if (len && bpf_probe_read_user(dst, len, src) != 0)
		return -1;
	return len;
}

/* The name is s->args[0] (s->args[1] bytes, or NUL-terminated when that is
 * negative); the value is `value` (value_len bytes, or NUL-terminated when
 * negative). */
static __always_inline void fill_getenv(struct at_getenv *e, struct stash *s, const char *value,
					 long value_len, bool found, bool with_value)
{
	bool truncated;
	long n;

	fill_header(&e->h, AT_KIND_GETENV);
	e->source = s->source;
	e->found = found;
	e->value_len = 0;
	n = read_user_string((__u8 *)(e + 1), AT_ENV_NAME_MAX, (const char *)s->args[0],
			     (long)s->args[1], &truncated);
	if (n < 0) {
		e->h.flags |= AT_F_READ_FAILED;
		n = 0;
	} else if (truncated) {
		e->h.flags |= AT_F_PATH_TRUNCATED;
	}
	e->name_len = n;
	if (with_value && found && value) {
		__u32 off = (e->name_len & (AT_ENV_NAME_MAX - 1));

		n = read_user_string((__u8 *)(e + 1) + off, AT_ENV_VALUE_MAX, value, value_len, &truncated);
		if (n < 0) {
			e->h.flags |= AT_F_READ_FAILED;
		} else {
			e->h.flags |= AT_F_VALUE_CAPTURED;
			if (truncated)
				e->h.flags |= AT_F_VALUE_TRUNCATED;
			e->value_len = n;
		}
	}
	e->h.size = sizeof(*e) + e->name_len + e->value_len;
}

/* One environment lookup's record from its entry state. With a stack, the
 * record reserves room for it after the longest name (and value); the stack
 * sits there, at the record's end. */
static __always_inline void emit_getenv(void *ctx, struct stash *s, const char *value, long value_len,
					bool found)
{
	struct at_getenv *e;

	if (capture_values) {
		if (wants_stack(AT_KIND_GETENV)) {
			e = bpf_ringbuf_reserve(&events, GETENV_RECORD_VALUES + AT_STACK_BYTES, 0);
			if (e) {
				fill_getenv(e, s, value, value_len, found, true);
				e->h.size = GETENV_RECORD_VALUES +
					    put_stack(ctx, &e->h, (__u8 *)e + GETENV_RECORD_VALUES);
			}
		} else {
			e = bpf_ringbuf_reserve(&events, GETENV_RECORD_VALUES, 0);
			if (e)
				fill_getenv(e, s, value, value_len, found, true);
		}
	} else {
		if (wants_stack(AT_KIND_GETENV)) {
			e = bpf_ringbuf_reserve(&events, GETENV_RECORD + AT_STACK_BYTES, 0);
			if (e) {
				fill_getenv(e, s, value, value_len, found, false);
				e->h.size = GETENV_RECORD + put_stack(ctx, &e->h, (__u8 *)e + GETENV_RECORD);
			}
		} else {
			e = bpf_ringbuf_reserve(&events, GETENV_RECORD, 0);
			if (e)
				fill_getenv(e, s, value, value_len, found, false);
		}
	}
	if (e) {
		count_sent(&e->h, 0);
		bpf_ringbuf_submit(e, wakeup_flags());
	}
	if (!e) {
		struct at_header h = { .kind = AT_KIND_GETENV };

		count_sent(&h, -1);
	}
}

SEC("uretprobe")
int BPF_KRETPROBE(handle_getenv_return, const char *value)
{
	__u64 key = USTASH_KEY((__u32)bpf_get_current_pid_tgid(), USTASH_GETENV);
	struct stash *s = bpf_map_lookup_elem(&ustash, &key);

	if (!s)
		return 0;
	emit_getenv(ctx, s, value, -1, value != NULL);
	bpf_map_delete_elem(&ustash, &key);
	return 0;
}

/*
 * Bun's process.env (Bun.env is the same object): the getter of a variable
 * set at start calls bool Bun__getEnvValue(JSGlobalObject*, const ZigString
 * *name, ZigString *value) the first time it is read (the JS object keeps
 * the value after that), and so do the getters of TZ,
 * NODE_TLS_REJECT_UNAUTHORIZED and BUN_CONFIG_VERBOSE_FETCH on every read.
 * Bun ships without symbols: collector/bun_env_signature.h finds it. A
 * ZigString is { ptr, len }, with tags in the pointer's top bits (63:
 * UTF-16, 62: allocated by mimalloc, 61: UTF-8) and the address in its low
 * 53 bits; the value's bytes are Bun's copy of the environment.
 */
#define ZIG_STRING_ADDRESS ((1ull << 53) - 1)
#define ZIG_STRING_UTF16 (1ull << 63)

SEC("uprobe")
int BPF_KPROBE(handle_bun_getenv, void *global, const __u64 *name, const __u64 *value)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = USTASH_KEY((__u32)id, USTASH_GETENV);
	__u64 zig[2] = {};
	struct stash s = {
		.source = AT_SRC_PROCESS_ENV,
		.kind = AT_KIND_GETENV,
	};

	if (!is_traced(id >> 32))
		return 0;
	if (bpf_probe_read_user(zig, sizeof(zig), name) != 0) {
		s.args[1] = 0; /* recorded with an empty name and the read-failed flag */
		s.args[0] = 0;
	} else {
		s.args[0] = zig[0] & ZIG_STRING_ADDRESS;
		/* A UTF-16 name (never one the environment had at start) is
		 * not converted: it is recorded as a failed read. */
		s.args[1] = (zig[0] & ZIG_STRING_UTF16) ? 0 : zig[1];
		if (zig[0] & ZIG_STRING_UTF16)
			s.args[0] = 0;
	}
	s.args[2] = (__u64)value;
	ustash_put(key, &s);
	return 0;
}

/* The thread's stash of a process.env read entered, or NULL. */
static __always_inline struct stash *process_env_stash(__u64 *key)
{
	struct stash *s;

	*key = USTASH_KEY((__u32)bpf_get_current_pid_tgid(), USTASH_GETENV);
	s = bpf_map_lookup_elem(&ustash, key);
	return s && s->source == AT_SRC_PROCESS_ENV ? s : NULL;
}

SEC("uretprobe")
int BPF_KRETPROBE(handle_bun_getenv_return, long ret)
{
	__u64 key;
	struct stash *s = process_env_stash(&key);
	__u64 zig[2] = {};
	bool found = (ret & 0xff) != 0; /* a C++ bool comes back in al */

	if (!s)
		return 0;
	if (found && capture_values &&
	    bpf_probe_read_user(zig, sizeof(zig), (const void *)s->args[2]) != 0)
		zig[0] = 0;
	emit_getenv(ctx, s, (const char *)(zig[0] & ZIG_STRING_ADDRESS), (long)zig[1], found);
	bpf_map_delete_elem(&ustash, &key);
	return 0;
}

/*
 * Bun 1.3's getter of the proxy variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY,
 * either case) looks the variable up itself instead of calling
 * Bun__getEnvValue, on every read: a JSC custom getter,
 * EncodedJSValue (JSGlobalObject*, EncodedJSValue thisValue, PropertyName),
 * found by collector/bun_env_signature.h. The PropertyName is a WTF
 * StringImpl: { u32 refcount, u32 length, const void *data, u32 hash and
 * flags }, 8-bit characters when flag 1 << 2 is set (a symbol, 1 << 5, or a
 * 16-bit name is recorded as a failed read). It returns undefined (0xa) when
 * the variable is not set. The value, a JS string, is not read.
 */
#define WTF_STRING_8BIT 0x4
#define WTF_STRING_SYMBOL 0x20
#define JS_VALUE_UNDEFINED 0xa

SEC("uprobe")
int BPF_KPROBE(handle_bun_env_getter, void *global, __u64 this_value, const void *impl)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = USTASH_KEY((__u32)id, USTASH_GETENV);
	struct {
		__u32 refcount, length;
		__u64 data;
		__u32 flags;
	} str = {};
	struct stash s = {
		.source = AT_SRC_PROCESS_ENV,
		.kind = AT_KIND_GETENV,
	};

	if (!is_traced(id >> 32))
		return 0;
	if (impl && bpf_probe_read_user(&str, sizeof(str), impl) == 0 &&
	    (str.flags & (WTF_STRING_8BIT | WTF_STRING_SYMBOL)) == WTF_STRING_8BIT) {
		s.args[0] = str.data;
		s.args[1] = str.length;
	}
	/* args[2] == 0: no ZigString value to read at return. */
	ustash_put(key, &s);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(handle_bun_env_getter_return, __u64 ret)
{
	__u64 key;
	struct stash *s = process_env_stash(&key);

	if (!s)
		return 0;
	emit_getenv(ctx, s, NULL, 0, ret != JS_VALUE_UNDEFINED);
	bpf_map_delete_elem(&ustash, &key);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Network: sockets, payloads, TLS plaintext, resolver calls                */

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EAGAIN 11

/* Payload bytes copied so far per connection and direction. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} budget SEC(".maps");

/* SSL object -> the connection it encrypts for, and the reverse, learned
 * from the socket writes an SSL object causes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} ssl_conn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} conn_ssl SEC(".maps");

/* Threads whose last SSL_write did not yet show which socket it uses:
 * runtimes with memory BIOs (Node.js) write the ciphertext right after. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} ssl_pending SEC(".maps");

static __always_inline __u64 conn_id(struct sock *sk)
{
	return sk ? ((__u64)sk ^ conn_key) : 0;
}

static __always_inline struct file *file_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= max_fds)
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* The socket behind fd, or NULL when fd is not a socket. */
static __always_inline struct sock *sock_of_fd(int fd, __u16 *type)
{
	struct file *file = file_of_fd(fd);
	struct socket *so;

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(file, private_data);
	if (!so)
		return NULL;
	*type = BPF_CORE_READ(so, type);
	return BPF_CORE_READ(so, sk);
}

static __always_inline void sock_addrs(struct sock *sk, struct at_sockaddr *peer,
				       struct at_sockaddr *local)
{
	__u16 family;

	if (!sk)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		__u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__u32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		if (peer) {
			peer->family = family;
			peer->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
			__builtin_memcpy(peer->addr, &daddr, 4);
		}
		if (local) {
			local->family = family;
			local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
			__builtin_memcpy(local->addr, &saddr, 4);
		}
	} else if (family == AF_INET6) {
		if (peer) {
			peer->family = family;
			peer->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
			BPF_CORE_READ_INTO(&peer->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		}
		if (local) {
			local->family = family;
			local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
			BPF_CORE_READ_INTO(&local->addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		}
	} else if (family == AF_UNIX) {
		if (peer)
			peer->family = family;
		if (local)
			local->family = family;
	} else if (family == AF_NETLINK) {
		/* a question to the kernel, not a peer: the protocol says which */
		if (peer) {
			peer->family = family;
			peer->port = BPF_CORE_READ(sk, sk_protocol);
		}
		if (local)
			local->family = family;
	}
}

/* Decodes a user sockaddr; for AF_UNIX copies the path to path_out (up to
 * AT_UNIX_PATH_MAX bytes) and returns its length. */
static __always_inline __u16 read_user_sockaddr(const void *uaddr, __u32 len,
						struct at_sockaddr *out, __u8 *path_out)
{
	__u16 family = 0;

	if (!uaddr || len < 2 || bpf_probe_read_user(&family, sizeof(family), uaddr))
		return 0;
	out->family = family;
	if (family == AF_INET) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		out->port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(out->addr, &sin.sin_addr.s_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		out->port = bpf_ntohs(sin6.sin6_port);
		out->scope_id = sin6.sin6_scope_id;
		__builtin_memcpy(out->addr, sin6.sin6_addr.in6_u.u6_addr8, 16);
	} else if (family == AF_UNIX && path_out && len > 2) {
		__u64 n = (__u64)len - 2;

		if (n > AT_UNIX_PATH_MAX)
			n = AT_UNIX_PATH_MAX;
		if (bpf_probe_read_user(path_out, n, (const __u8 *)uaddr + 2) == 0) {
			/* a pathname socket's path ends at its NUL; an abstract
			 * one (leading NUL) uses every byte given */
			if (path_out[0]) {
				__u32 i;

				for (i = 0; i < AT_UNIX_PATH_MAX && i < n; i++)
					if (path_out[i] == 0)
						break;
				n = i;
			}
			return n;
		}
	}
	return 0;
}

/* ---- sockets: connect, bind, listen, accept, close ---------------------- */

#define SOCK_RECORD (sizeof(struct at_sock_event) + 128)

static __always_inline void emit_sock_event(struct bpf_raw_tracepoint_args *ctx, __u16 kind, __u16 source, long ret, int fd,
					    struct sock *sk, __u16 sock_type, const void *uaddr,
					    __u32 ulen, int backlog)
{
	bool stack = ctx && wants_stack(kind);
	struct at_sock_event *e = stack ? bpf_ringbuf_reserve(&events, SOCK_RECORD + AT_STACK_BYTES, 0)
					: bpf_ringbuf_reserve(&events, SOCK_RECORD, 0);

	if (!e) {
		struct at_header h = { .kind = kind };

		count_sent(&h, -1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, kind);
	e->result = ret;
	e->fd = fd;
	e->source = source;
	e->sock_type = sock_type;
	e->backlog = backlog;
	e->conn = conn_id(sk);
	e->unix_len = read_user_sockaddr(uaddr, ulen, &e->addr, (__u8 *)(e + 1));
	if (kind == AT_KIND_ACCEPT)
		sock_addrs(sk, &e->addr, &e->local);
	else
		sock_addrs(sk, NULL, &e->local);
	e->h.size = sizeof(*e) + (e->unix_len & 127);
	if (stack)
		e->h.size = SOCK_RECORD + put_syscall_stack(ctx, &e->h, (__u8 *)e + SOCK_RECORD);
	count_sent(&e->h, 0);
	bpf_ringbuf_submit(e, wakeup_flags());
}

/* connect(fd, addr, addrlen) and bind(fd, addr, addrlen) */
#define SOCK_ADDR_CALL(name, KIND, SRC)                                                    \
	SYS_ENTER(name)                                                                    \
	{                                                                                  \
		ARGS_OR_OUT();                                                             \
		return save_args(KIND, SRC, s.a[0], s.a[1], s.a[2], 0);                    \
	}                                                                                  \
	SYS_EXIT(name)                                                                     \
	{                                                                                  \
		struct stash *st = stash_get();                      \
		__u16 type = 0;                                                            \
		struct sock *sk;                                                           \
		if (!st || st->kind != KIND)                                               \
			return 0;                                                          \
		sk = sock_of_fd((int)st->args[0], &type);                                  \
		emit_sock_event(ctx, KIND, SRC, (long)ctx->args[1], (int)st->args[0], sk, type, \
				(const void *)st->args[1], (__u32)st->args[2], 0);         \
		stash_drop();                                         \
		return 0;                                                                  \
	}

SOCK_ADDR_CALL(connect, AT_KIND_CONNECT, AT_SRC_CONNECT)
SOCK_ADDR_CALL(bind, AT_KIND_BIND, AT_SRC_BIND)

/* listen(fd, backlog) */
SYS_ENTER(listen)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_LISTEN, AT_SRC_LISTEN, s.a[0], s.a[1], 0, 0);
}

SYS_EXIT(listen)
{
	struct stash *st = stash_get();
	__u16 type = 0;
	struct sock *sk;

	if (!st || st->kind != AT_KIND_LISTEN)
		return 0;
	sk = sock_of_fd((int)st->args[0], &type);
	emit_sock_event(NULL, AT_KIND_LISTEN, AT_SRC_LISTEN, (long)ctx->args[1], (int)st->args[0], sk,
			type, NULL, 0, (int)st->args[1]);
	stash_drop();
	return 0;
}

/* accept(fd, addr, addrlen) and accept4(fd, addr, addrlen, flags): the
 * peer is read from the new socket itself. */
#define ACCEPT_CALL(name, SRC)                                                        \
	SYS_ENTER(name)                                                               \
	{                                                                             \
		ARGS_OR_OUT();                                                        \
		return save_args(AT_KIND_ACCEPT, SRC, s.a[0], 0, 0, 0);               \
	}                                                                             \
	SYS_EXIT(name)                                                                \
	{                                                                             \
		struct stash *st = stash_get();                 \
		long ret = (long)ctx->args[1];                                        \
		struct sock *sk = NULL;                                               \
		__u16 type = 0;                                                       \
		if (!st || st->kind != AT_KIND_ACCEPT)                                \
			return 0;                                                     \
		if (ret >= 0)                                                         \
			sk = sock_of_fd((int)ret, &type);                             \
		if (ret != -EAGAIN)                                                   \
			emit_sock_event(NULL, AT_KIND_ACCEPT, SRC, ret, (int)st->args[0], sk, \
					type, NULL, 0, 0);                            \
		stash_drop();                                    \
		return 0;                                                             \
	}

ACCEPT_CALL(accept, AT_SRC_ACCEPT)
ACCEPT_CALL(accept4, AT_SRC_ACCEPT4)

/* close(fd) of a socket: recorded at entry, while fd still names it. */
SYS_ENTER(close)
{
	__u16 type = 0;
	struct sock *sk;
	__u64 conn;

	ARGS_OR_OUT();
	sk = sock_of_fd((int)s.a[0], &type);
	if (!sk)
		return 0;
	conn = conn_id(sk);
	emit_sock_event(NULL, AT_KIND_CLOSE, AT_SRC_CLOSE, 0, (int)s.a[0], sk, type, NULL, 0, 0);
	bpf_map_delete_elem(&budget, &conn);
	conn ^= 1;
	bpf_map_delete_elem(&budget, &conn);
	return 0;
}

/* ---- payloads ----------------------------------------------------------- */

static __always_inline struct emit_state *emit_state_get(__u32 tid)
{
	struct emit_state *es = bpf_map_lookup_elem(&emit_states, &tid);
	__u32 zero = 0;

	if (es)
		return es;
	es = bpf_map_lookup_elem(&emit_zero, &zero);
	if (!es)
		return NULL;
	bpf_map_update_elem(&emit_states, &tid, es, BPF_NOEXIST);
	return bpf_map_lookup_elem(&emit_states, &tid);
}

/* Reserves a record for n payload bytes in one of a few sizes, so a short
 * write does not take a whole chunk of ring space. */
#define TRY_BUCKET(cap)                                                                   \
	if (n <= (cap)) {                                                                 \
		e = bpf_ringbuf_reserve(&events, sizeof(struct at_data_event) + (cap), 0); \
		if (e) {                                                                  \
			__u64 len = n;                                                    \
			__builtin_memcpy(e, &es->t, sizeof(*e));                          \
			/* re-checked after a compiler barrier so the verifier sees it */ \
			barrier_var(len);                                                 \
			if (len > (cap))                                                  \
				len = (cap);                                              \
			if (bpf_probe_read_user((void *)(e + 1), len, (const void *)es->base)) \
				read_failed = 1;                                          \
		}                                                                         \
		goto reserved;                                                            \
	}

static long emit_chunk_step(__u32 index, __u32 *tidp)
{
	__u32 tid = *tidp;
	struct emit_state *es = bpf_map_lookup_elem(&emit_states, &tid);
	struct at_data_event *e = NULL;
	int read_failed = 0;
	__u64 n;

	if (!es || es->to_copy == 0)
		return 1;
	if (es->left == 0) {
		struct iovec v = {};

		if (!es->iov || es->iov_index >= es->iov_count || es->iov_index >= AT_MAX_IOV)
			return 1;
		if (bpf_probe_read_user(&v, sizeof(v),
					(const void *)(es->iov + es->iov_index * sizeof(struct iovec)))) {
			es->failed = 1;
			return 1;
		}
		es->iov_index++;
		es->base = (__u64)v.iov_base;
		es->left = v.iov_len;
		return 0;
	}
	n = es->left < es->to_copy ? es->left : es->to_copy;
	if (n > AT_CHUNK)
		n = AT_CHUNK;
	TRY_BUCKET(256)
	TRY_BUCKET(1024)
	TRY_BUCKET(4096)
	TRY_BUCKET(AT_CHUNK)
	return 1;
reserved:
	if (!e) {
		struct at_header h = { .kind = es->t.h.kind };

		count_sent(&h, -1);
		es->failed = 1;
		return 1;
	}
	if (read_failed) {
		bpf_ringbuf_discard(e, 0);
		es->failed = 1;
		return 1;
	}
	e->data_offset = es->copied;
	e->data_len = n;
	e->chunk_index = es->chunks;
	e->h.size = sizeof(*e) + n;
	count_sent(&e->h, 0);
	bpf_ringbuf_submit(e, wakeup_flags());
	es->base += n;
	es->left -= n;
	es->to_copy -= n;
	es->copied += n;
	es->chunks++;
	return 0;
}

/*
 * Emits one message: its bytes in chunk records (up to the connection's
 * budget), then a final record with the totals. `iov`/`iov_count` describe an
 * iovec array, or `iov` is 0 and `buf` is a single buffer.
 */
static __always_inline void emit_message(struct emit_state *es, __u64 buf, __u64 iov,
					 __u32 iov_count, __u64 msg_bytes, __u64 budget_key,
					 bool copy)
{
	__u32 tid = es->t.h.tid;
	__u64 used = 0, *usedp, allowed = 0, want, copied;
	struct at_counters *cnt;
	struct at_data_event *e;

	es->iov = iov;
	es->iov_count = iov_count;
	es->base = buf;
	es->left = iov ? 0 : msg_bytes;
	es->iov_index = 0;
	es->copied = 0;
	es->chunks = 0;
	es->failed = 0;
	es->t.msg_bytes = msg_bytes;

	if (copy && capture_bytes) {
		usedp = bpf_map_lookup_elem(&budget, &budget_key);
		if (usedp)
			used = *usedp;
		allowed = capture_bytes > used ? capture_bytes - used : 0;
	}
	want = msg_bytes < allowed ? msg_bytes : allowed;
	if (want > (__u64)AT_MAX_CHUNKS * AT_CHUNK)
		want = (__u64)AT_MAX_CHUNKS * AT_CHUNK;
	es->to_copy = want;
	if (want)
		bpf_loop(AT_MAX_CHUNKS + AT_MAX_IOV, emit_chunk_step, &tid, 0);
	copied = es->copied;
	if (copied) {
		used += copied;
		bpf_map_update_elem(&budget, &budget_key, &used, BPF_ANY);
	}

	/* The final record carries the totals. */
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		struct at_header h = { .kind = es->t.h.kind };

		count_sent(&h, -1);
		return;
	}
	__builtin_memcpy(e, &es->t, sizeof(*e));
	e->data_offset = copied;
	e->data_len = 0;
	e->captured = copied;
	e->chunk_index = es->chunks;
	e->reserved = 1; /* final */
	if (copied < msg_bytes && copy && capture_bytes)
		e->h.flags |= AT_F_BUDGET_SPENT;
	if (es->failed)
		e->h.flags |= AT_F_READ_FAILED;
	e->h.size = sizeof(*e);
	count_sent(&e->h, 0);
	cnt = get_counters();
	if (cnt) {
		__sync_fetch_and_add(&cnt->payload_bytes, copied);
		/* ciphertext of captured plaintext is left out on purpose */
		if (copy && msg_bytes > copied)
			__sync_fetch_and_add(&cnt->payload_truncated, msg_bytes - copied);
	}
	bpf_ringbuf_submit(e, wakeup_flags());
}

static __always_inline struct emit_state *begin_data(__u16 kind, __u16 source, long ret, int fd,
						     struct sock *sk, __u16 type)
{
	struct emit_state *es = emit_state_get((__u32)bpf_get_current_pid_tgid());

	if (!es)
		return NULL;
	__builtin_memset(&es->t, 0, sizeof(es->t));
	fill_header(&es->t.h, kind);
	es->t.result = ret;
	es->t.fd = fd;
	es->t.source = source;
	es->t.sock_type = type;
	es->t.conn = conn_id(sk);
	es->t.call_id = bpf_ktime_get_ns();
	sock_addrs(sk, &es->t.peer, &es->t.local);
	return es;
}

/*
 * A socket write. Inside an SSL_write call the bytes are ciphertext of data
 * captured as plaintext: tie the SSL object to this connection and copy
 * nothing. Right after an SSL_write whose socket was unknown (a memory BIO),
 * the first write on the same thread makes the same tie. On a connection
 * known to carry TLS, ciphertext is counted, not copied.
 */
static __always_inline bool tls_ciphertext(struct emit_state *es)
{
	__u32 tid = es->t.h.tid;
	__u64 key = USTASH_KEY(tid, USTASH_SSL);
	struct stash *in_call = bpf_map_lookup_elem(&ustash, &key);
	__u64 conn = es->t.conn, ssl = 0, *pending, *known;

	if (!conn)
		return false;
	if (in_call && (in_call->source == AT_SRC_SSL_WRITE || in_call->source == AT_SRC_SSL_WRITE_EX))
		ssl = in_call->args[0] ^ conn_key;
	pending = bpf_map_lookup_elem(&ssl_pending, &tid);
	if (!ssl && pending) {
		ssl = *pending;
		bpf_map_delete_elem(&ssl_pending, &tid);
	}
	if (ssl) {
		bpf_map_update_elem(&ssl_conn, &ssl, &conn, BPF_ANY);
		bpf_map_update_elem(&conn_ssl, &conn, &ssl, BPF_ANY);
		es->t.ssl = ssl;
		es->t.h.flags |= AT_F_IN_TLS_CALL;
		return true;
	}
	known = bpf_map_lookup_elem(&conn_ssl, &conn);
	if (known) {
		es->t.ssl = *known;
		es->t.h.flags |= AT_F_IN_TLS_CALL;
		return true;
	}
	return false;
}

/* A call on a socket fd whose three arguments are kept when `keep` (of the
 * socket sk and its type) holds. write(fd, buf, count) and writev(fd, iov,
 * iovcnt): only sockets are kept. */
#define SOCKET_CALL(name, KIND, SRC, keep)                               \
	SYS_ENTER(name)                                                  \
	{                                                                \
		__u16 type = 0;                                          \
		struct sock *sk;                                         \
		ARGS_OR_OUT();                                           \
		sk = sock_of_fd((int)s.a[0], &type);                     \
		if (!(keep))                                             \
			return 0;                                        \
		return save_args(KIND, SRC, s.a[0], s.a[1], s.a[2], 0);  \
	}
#define WRITE_CALL(name, SRC) SOCKET_CALL(name, AT_KIND_SEND, SRC, sk)

WRITE_CALL(write, AT_SRC_WRITE)
WRITE_CALL(writev, AT_SRC_WRITEV)

/* sendto(fd, buf, len, flags, dest, addrlen) */
SYS_ENTER(sendto)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];

	ARGS_OR_OUT();
	return save_args_extra(AT_KIND_SEND, AT_SRC_SENDTO, s.a[0], s.a[1], s.a[2], 0,
			       BPF_CORE_READ(regs, r8));
}

/* sendmsg(fd, msg, flags), sendmmsg(fd, msgvec, vlen, flags) */
SYS_ENTER(sendmsg)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_SEND, AT_SRC_SENDMSG, s.a[0], s.a[1], s.a[2], 0);
}

SYS_ENTER(sendmmsg)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_SEND, AT_SRC_SENDMMSG, s.a[0], s.a[1], s.a[2], 0);
}

/* The explicit destination of a datagram, when one was given (a netlink
 * socket keeps its own view: the protocol). */
static __always_inline void set_destination(struct emit_state *es, const void *uaddr, __u32 len)
{
	struct at_sockaddr dest = {};

	if (!uaddr || es->t.peer.family == AF_NETLINK)
		return;
	read_user_sockaddr(uaddr, len, &dest, NULL);
	if (dest.family)
		es->t.peer = dest;
}

/* The saved arguments of a send, and its record template; NULL when there is
 * nothing to record. */
static __always_inline struct stash *send_begin(struct bpf_raw_tracepoint_args *ctx,
						 struct emit_state **esp, bool *cipher)
{
	struct stash *st = stash_get();
	long ret = (long)ctx->args[1];
	struct emit_state *es;
	struct sock *sk;
	__u16 type = 0;

	if (!st || st->kind != AT_KIND_SEND)
		return NULL;
	if (ret == -EAGAIN || (ret <= 0 && st->source <= AT_SRC_WRITEV))
		goto skip;
	sk = sock_of_fd((int)st->args[0], &type);
	es = begin_data(AT_KIND_SEND, st->source, ret, (int)st->args[0], sk, type);
	if (!es)
		goto skip;
	*cipher = tls_ciphertext(es);
	*esp = es;
	return st;
skip:
	stash_drop();
	return NULL;
}

static __always_inline int send_end(void)
{

	stash_drop();
	return 0;
}

static __always_inline __u64 positive(long ret) { return ret > 0 ? ret : 0; }

/* A send on a netlink socket is a question to the kernel: its first message
 * header (and the family byte and interface index after it) becomes an
 * AT_KIND_HOST_QUERY record, built here in the scratch buffer and submitted
 * (with the stack of who asked) by submit_host_query once the send itself is
 * recorded. Returns whether a record waits. */
static __always_inline bool netlink_request(struct emit_state *es, const void *msg)
{
	struct {
		struct nlmsghdr nh;
		__u8 family;
		__u8 pad;
		__u16 type;
		__s32 index;
	} req = {};
	struct at_host_query *e;

	if (es->t.peer.family != AF_NETLINK || !msg || bpf_probe_read_user(&req, sizeof(req), msg))
		return false;
	e = (struct at_host_query *)get_scratch();
	if (!e)
		return false;
	__builtin_memset(e, 0, sizeof(*e));
	e->h = es->t.h;
	e->h.kind = AT_KIND_HOST_QUERY;
	e->h.flags = 0;
	e->result = es->t.result;
	e->request = req.nh.nlmsg_type;
	e->fd = es->t.fd;
	e->source = es->t.source;
	e->nl_flags = req.nh.nlmsg_flags;
	e->protocol = es->t.peer.port;
	e->family = req.family;
	e->length = req.nh.nlmsg_len;
	/* ifinfomsg's index; an rtgenmsg request is shorter and has none */
	if (req.nh.nlmsg_len >= sizeof(req))
		e->ifindex = req.index;
	return true;
}

SYS_EXIT(write)
{
	struct emit_state *es;
	bool cipher = false;
	struct stash *st = send_begin(ctx, &es, &cipher);

	if (!st)
		return 0;
	emit_message(es, st->args[1], 0, 0, positive(es->t.result), es->t.conn, !cipher);
	return send_end();
}

SYS_EXIT(writev)
{
	struct emit_state *es;
	bool cipher = false;
	struct stash *st = send_begin(ctx, &es, &cipher);

	if (!st)
		return 0;
	emit_message(es, 0, st->args[1], (__u32)st->args[2], positive(es->t.result), es->t.conn,
		     !cipher);
	return send_end();
}

SYS_EXIT(sendto)
{
	struct emit_state *es;
	bool cipher = false;
	struct stash *st = send_begin(ctx, &es, &cipher);

	if (!st)
		return 0;
	bool query = netlink_request(es, (const void *)st->args[1]);

	set_destination(es, (const void *)st->extra, sizeof(struct sockaddr_in6));
	emit_message(es, st->args[1], 0, 0, positive(es->t.result), es->t.conn, !cipher);
	send_end();
	if (query)
		submit_host_query(ctx);
	return 0;
}

SYS_EXIT(sendmsg)
{
	struct user_msghdr m = {};
	struct emit_state *es;
	bool cipher = false, query = false;
	struct stash *st = send_begin(ctx, &es, &cipher);

	if (!st)
		return 0;
	if (bpf_probe_read_user(&m, sizeof(m), (const void *)st->args[1]) == 0) {
		struct iovec v = {};

		if (es->t.peer.family == AF_NETLINK && m.msg_iov && m.msg_iovlen &&
		    bpf_probe_read_user(&v, sizeof(v), m.msg_iov) == 0)
			query = netlink_request(es, v.iov_base);
		set_destination(es, m.msg_name, m.msg_namelen);
	}
	emit_message(es, 0, (__u64)m.msg_iov, (__u32)m.msg_iovlen, positive(es->t.result),
		     es->t.conn, !cipher);
	send_end();
	if (query)
		submit_host_query(ctx);
	return 0;
}

/* sendmmsg returns the number of messages sent; each has its own length and
 * possibly its own destination. */
SYS_EXIT(sendmmsg)
{
	struct at_sockaddr own_peer;
	struct emit_state *es;
	bool cipher = false;
	struct stash *st = send_begin(ctx, &es, &cipher);
	__u64 vec;
	long sent;

	if (!st)
		return 0;
	own_peer = es->t.peer;
	vec = st->args[1];
	sent = es->t.result;
	if (sent <= 0) {
		emit_message(es, 0, 0, 0, 0, es->t.conn, false);
		return send_end();
	}
	for (int i = 0; i < AT_MAX_MMSG; i++) {
		struct mmsghdr mm = {};

		if (i >= sent)
			break;
		if (bpf_probe_read_user(&mm, sizeof(mm), (const void *)(vec + i * sizeof(struct mmsghdr))))
			break;
		es->t.peer = own_peer;
		set_destination(es, mm.msg_hdr.msg_name, mm.msg_hdr.msg_namelen);
		es->t.msg_index = i;
		es->t.call_id++;
		emit_message(es, 0, (__u64)mm.msg_hdr.msg_iov, (__u32)mm.msg_hdr.msg_iovlen, mm.msg_len,
			     es->t.conn, !cipher);
	}
	return send_end();
}

/* ---- DNS answers: what comes back from port 53 --------------------------- */

static __always_inline bool is_dns_peer(struct sock *sk)
{
	return sk && bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == 53;
}

/* read(fd, buf, count) and readv(fd, iov, iovcnt) on a socket connected to
 * port 53; recvfrom, recvmsg and recvmmsg on datagram sockets, kept when the
 * source is port 53. */
#define DNS_DATAGRAM(sk) ((sk) && (type == 2 /* SOCK_DGRAM */ || is_dns_peer(sk)))
SOCKET_CALL(read, AT_KIND_RECV, AT_SRC_READ, is_dns_peer(sk))
SOCKET_CALL(readv, AT_KIND_RECV, AT_SRC_READV, is_dns_peer(sk))
SOCKET_CALL(recvmsg, AT_KIND_RECV, AT_SRC_RECVMSG, DNS_DATAGRAM(sk))
SOCKET_CALL(recvmmsg, AT_KIND_RECV, AT_SRC_RECVMMSG, DNS_DATAGRAM(sk))

SYS_ENTER(recvfrom)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u16 type = 0;
	struct sock *sk;

	ARGS_OR_OUT();
	sk = sock_of_fd((int)s.a[0], &type);
	if (!sk || (type != 2 /* SOCK_DGRAM */ && !is_dns_peer(sk)))
		return 0;
	return save_args_extra(AT_KIND_RECV, AT_SRC_RECVFROM, s.a[0], s.a[1], s.a[2], 0,
			       BPF_CORE_READ(regs, r8));
}

static __always_inline int recv_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct stash *st = stash_get();
	long ret = (long)ctx->args[1];
	struct user_msghdr m = {};
	struct emit_state *es;
	struct sock *sk;
	__u16 type = 0;

	if (!st || st->kind != AT_KIND_RECV)
		return 0;
	if (ret <= 0)
		goto out;
	sk = sock_of_fd((int)st->args[0], &type);
	es = begin_data(AT_KIND_RECV, st->source, ret, (int)st->args[0], sk, type);
	if (!es)
		goto out;
	es->t.h.flags |= AT_F_INBOUND;
	if (st->source == AT_SRC_RECVMSG) {
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)st->args[1]))
			goto out;
		set_destination(es, m.msg_name, m.msg_namelen);
	} else if (st->source == AT_SRC_RECVFROM) {
		set_destination(es, (const void *)st->extra, sizeof(struct sockaddr_in6));
	}
	if (es->t.peer.port != 53)
		goto out;
	if (st->source == AT_SRC_RECVMSG)
		emit_message(es, 0, (__u64)m.msg_iov, (__u32)m.msg_iovlen, ret, es->t.conn ^ 1, true);
	else if (st->source == AT_SRC_READV)
		emit_message(es, 0, st->args[1], (__u32)st->args[2], ret, es->t.conn ^ 1, true);
	else
		emit_message(es, st->args[1], 0, 0, ret, es->t.conn ^ 1, true);
out:
	stash_drop();
	return 0;
}

SYS_EXIT(read) { return recv_exit(ctx); }
SYS_EXIT(readv) { return recv_exit(ctx); }
SYS_EXIT(recvfrom) { return recv_exit(ctx); }
SYS_EXIT(recvmsg) { return recv_exit(ctx); }

/* recvmmsg returns the number of messages received; each has its own length
 * and its own source, and only those from port 53 are kept. */
SYS_EXIT(recvmmsg)
{
	struct stash *st = stash_get();
	long got = (long)ctx->args[1];
	struct at_sockaddr own_peer;
	struct emit_state *es;
	struct sock *sk;
	__u16 type = 0;
	__u64 vec;

	if (!st || st->kind != AT_KIND_RECV || st->source != AT_SRC_RECVMMSG)
		return 0;
	if (got <= 0)
		goto out;
	vec = st->args[1];
	sk = sock_of_fd((int)st->args[0], &type);
	es = begin_data(AT_KIND_RECV, AT_SRC_RECVMMSG, got, (int)st->args[0], sk, type);
	if (!es)
		goto out;
	es->t.h.flags |= AT_F_INBOUND;
	own_peer = es->t.peer;
	for (int i = 0; i < AT_MAX_MMSG; i++) {
		struct mmsghdr mm = {};

		if (i >= got)
			break;
		if (bpf_probe_read_user(&mm, sizeof(mm), (const void *)(vec + i * sizeof(struct mmsghdr))))
			break;
		es->t.peer = own_peer;
		set_destination(es, mm.msg_hdr.msg_name, mm.msg_hdr.msg_namelen);
		if (es->t.peer.port != 53)
			continue;
		es->t.msg_index = i;
		es->t.call_id++;
		emit_message(es, 0, (__u64)mm.msg_hdr.msg_iov, (__u32)mm.msg_hdr.msg_iovlen, mm.msg_len,
			     es->t.conn ^ 1, true);
	}
out:
	stash_drop();
	return 0;
}

/* ---- TLS plaintext: SSL_write, SSL_write_ex, SSL_read, SSL_read_ex ------- */

static __always_inline int ssl_enter(struct pt_regs *regs, __u16 source)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = USTASH_KEY((__u32)id, USTASH_SSL);
	struct stash s = {
		.args = { PT_REGS_PARM1(regs), PT_REGS_PARM2(regs), PT_REGS_PARM3(regs),
			  PT_REGS_PARM4(regs) },
		.source = source,
		.kind = (source == AT_SRC_SSL_READ || source == AT_SRC_SSL_READ_EX) ? AT_KIND_RECV
										     : AT_KIND_SEND,
	};

	if (!is_traced(id >> 32))
		return 0;
	ustash_put(key, &s);
	return 0;
}

static __always_inline int ssl_return(struct pt_regs *regs)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 key = USTASH_KEY(tid, USTASH_SSL);
	struct stash *st = bpf_map_lookup_elem(&ustash, &key);
	/* SSL_* return an int: only the low 32 bits of rax are meaningful. */
	long ret = (int)PT_REGS_RC(regs);
	__u64 bytes = 0, ssl, *conn;
	struct emit_state *es;

	if (!st)
		return 0;
	if (st->source == AT_SRC_SSL_WRITE_EX || st->source == AT_SRC_SSL_READ_EX) {
		__u64 n = 0;

		if (ret == 1 && st->args[3])
			bpf_probe_read_user(&n, sizeof(n), (const void *)st->args[3]);
		bytes = n;
	} else if (ret > 0) {
		bytes = ret;
	}
	if (!bytes)
		goto out;
	es = begin_data(st->kind, st->source, ret, -1, NULL, 0);
	if (!es)
		goto out;
	ssl = st->args[0] ^ conn_key;
	es->t.h.flags |= AT_F_TLS;
	if (st->kind == AT_KIND_RECV)
		es->t.h.flags |= AT_F_INBOUND;
	es->t.ssl = ssl;
	conn = bpf_map_lookup_elem(&ssl_conn, &ssl);
	if (conn)
		es->t.conn = *conn;
	else if (st->kind == AT_KIND_SEND)
		bpf_map_update_elem(&ssl_pending, &tid, &ssl, BPF_ANY);
	/* TLS plaintext has its own budget, per SSL object and direction. */
	emit_message(es, st->args[1], 0, 0, bytes, (ssl ^ 2) ^ (st->kind == AT_KIND_RECV), true);
out:
	bpf_map_delete_elem(&ustash, &key);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(handle_ssl_write) { return ssl_enter(ctx, AT_SRC_SSL_WRITE); }
SEC("uprobe")
int BPF_KPROBE(handle_ssl_write_ex) { return ssl_enter(ctx, AT_SRC_SSL_WRITE_EX); }
SEC("uprobe")
int BPF_KPROBE(handle_ssl_read) { return ssl_enter(ctx, AT_SRC_SSL_READ); }
SEC("uprobe")
int BPF_KPROBE(handle_ssl_read_ex) { return ssl_enter(ctx, AT_SRC_SSL_READ_EX); }
SEC("uretprobe")
int BPF_KRETPROBE(handle_ssl_return) { return ssl_return(ctx); }

/* ---- resolver library calls --------------------------------------------- */

static __always_inline int dns_enter(__u16 source, __u64 name, __u64 out, __u64 family)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = USTASH_KEY((__u32)id, USTASH_DNS);
	struct stash s = {
		.args = { name, out, family, 0 },
		.source = source,
		.kind = AT_KIND_DNS,
	};

	if (!is_traced(id >> 32))
		return 0;
	ustash_put(key, &s);
	return 0;
}

/* glibc x86-64 layouts (stable ABI). */
struct at_addrinfo {
	int ai_flags, ai_family, ai_socktype, ai_protocol;
	__u32 ai_addrlen;
	__u32 pad;
	__u64 ai_addr, ai_canonname, ai_next;
};

struct at_hostent {
	__u64 h_name, h_aliases;
	int h_addrtype, h_length;
	__u64 h_addr_list;
};

#define DNS_RECORD (sizeof(struct at_dns_event) + AT_DNS_NAME_MAX)

static __always_inline void dns_from_hostent(struct at_dns_event *e, __u64 hostent)
{
	struct at_hostent h = {};

	if (!hostent || bpf_probe_read_user(&h, sizeof(h), (const void *)hostent))
		return;
	for (int i = 0; i < AT_DNS_MAX_ADDRS; i++) {
		__u64 p = 0;

		if (bpf_probe_read_user(&p, sizeof(p), (const void *)(h.h_addr_list + i * 8)) || !p)
			break;
		e->addrs[i].family = h.h_addrtype;
		bpf_probe_read_user(e->addrs[i].addr, h.h_addrtype == AF_INET6 ? 16 : 4, (const void *)p);
		e->count = i + 1;
	}
}

static __always_inline int dns_return(struct pt_regs *regs)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = USTASH_KEY((__u32)id, USTASH_DNS);
	struct stash *st = bpf_map_lookup_elem(&ustash, &key);
	long ret = PT_REGS_RC(regs);
	struct at_dns_event *e;
	long n;

	bool stack = wants_stack(AT_KIND_DNS);

	if (!st)
		return 0;
	e = stack ? bpf_ringbuf_reserve(&events, DNS_RECORD + AT_STACK_BYTES, 0)
		  : bpf_ringbuf_reserve(&events, DNS_RECORD, 0);
	if (!e) {
		struct at_header h = { .kind = AT_KIND_DNS };

		count_sent(&h, -1);
		goto out;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, AT_KIND_DNS);
	e->result = (__s32)ret;
	e->source = st->source;
	e->family = (__u16)st->args[2];
	n = bpf_probe_read_user_str((void *)(e + 1), AT_DNS_NAME_MAX, (const void *)st->args[0]);
	if (n <= 0) {
		e->h.flags |= AT_F_READ_FAILED;
		n = 1;
	}
	e->name_len = n - 1;
	switch (st->source) {
	case AT_SRC_GETADDRINFO: {
		__u64 ai = 0;

		/* an int: the upper half of rax is undefined */
		if ((int)ret != 0 || !st->args[1] || bpf_probe_read_user(&ai, sizeof(ai), (const void *)st->args[1]))
			break;
		for (int i = 0; i < AT_DNS_MAX_ADDRS && ai; i++) {
			struct at_addrinfo a = {};

			if (bpf_probe_read_user(&a, sizeof(a), (const void *)ai))
				break;
			read_user_sockaddr((const void *)a.ai_addr, a.ai_addrlen, &e->addrs[i], NULL);
			e->count = i + 1;
			ai = a.ai_next;
		}
		break;
	}
	case AT_SRC_GETHOSTBYNAME:
	case AT_SRC_GETHOSTBYNAME2:
		dns_from_hostent(e, (__u64)ret);
		break;
	case AT_SRC_GETHOSTBYNAME_R:
	case AT_SRC_GETHOSTBYNAME2_R: {
		__u64 result = 0;

		if ((int)ret == 0 && st->args[1] &&
		    bpf_probe_read_user(&result, sizeof(result), (const void *)st->args[1]) == 0)
			dns_from_hostent(e, result);
		break;
	}
	}
	e->h.size = sizeof(*e) + (e->name_len & (AT_DNS_NAME_MAX - 1));
	if (stack)
		e->h.size = DNS_RECORD + put_stack(regs, &e->h, (__u8 *)e + DNS_RECORD);
	count_sent(&e->h, 0);
	bpf_ringbuf_submit(e, wakeup_flags());
out:
	bpf_map_delete_elem(&ustash, &key);
	return 0;
}

/* getaddrinfo(node, service, hints, res) */
SEC("uprobe")
int BPF_KPROBE(handle_getaddrinfo, const char *node, const char *service, void *hints, void *res)
{
	return dns_enter(AT_SRC_GETADDRINFO, (__u64)node, (__u64)res, 0);
}

/* gethostbyname(name), gethostbyname2(name, af) return a hostent */
SEC("uprobe")
int BPF_KPROBE(handle_gethostbyname, const char *name)
{
	return dns_enter(AT_SRC_GETHOSTBYNAME, (__u64)name, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(handle_gethostbyname2, const char *name, int af)
{
	return dns_enter(AT_SRC_GETHOSTBYNAME2, (__u64)name, 0, af);
}

/* gethostbyname_r(name, ret, buf, buflen, result, h_errnop) and
 * gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop) */
SEC("uprobe")
int BPF_KPROBE(handle_gethostbyname_r, const char *name)
{
	return dns_enter(AT_SRC_GETHOSTBYNAME_R, (__u64)name, PT_REGS_PARM5(ctx), 0);
}

SEC("uprobe")
int BPF_KPROBE(handle_gethostbyname2_r, const char *name, int af)
{
	/* the seventh argument is on the stack; result is the sixth (r9) */
	return dns_enter(AT_SRC_GETHOSTBYNAME2_R, (__u64)name, ctx->r9, af);
}

SEC("uretprobe")
int BPF_KRETPROBE(handle_dns_return) { return dns_return(ctx); }

/* ------------------------------------------------------------------------ */
/* Evasion coverage: paths behind symlinks, sendfile/splice, io_uring        */

/* The path of the file an open returned, from its own dentries: a chain of
 * symlinks (or a symlinked directory) cannot disguise what was opened. */
static __always_inline __u32 opened_file_path(struct at_header *h, __u32 base, int fd,
					      __u16 *depth)
{
	struct file *file = file_of_fd(fd);

	*depth = 0;
	if (!file)
		return 0;
	return walk_dir(h, base, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			depth);
}

#define S_IFREG 0100000
#define S_IFIFO 0010000

static __always_inline __u16 file_type(struct file *file)
{
	__u32 mode;

	if (!file)
		return AT_FILE_OTHER;
	mode = BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT;
	if (mode == S_IFREG)
		return AT_FILE_REGULAR;
	if (mode == S_IFIFO)
		return AT_FILE_PIPE;
	if (mode == S_IFSOCK)
		return AT_FILE_SOCKET;
	return AT_FILE_OTHER;
}

/* A pipe's identity: its inode, hidden like connection ids. */
static __always_inline __u64 pipe_id(struct file *file)
{
	return (__u64)BPF_CORE_READ(file, f_inode) ^ conn_key;
}

/* sendfile(out_fd, in_fd, offset, count): the output fd goes in args[0]. */
SYS_ENTER(sendfile64)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_SPLICE, AT_SRC_SENDFILE, s.a[0], s.a[1], 0, 0);
}

/* splice(fd_in, off_in, fd_out, off_out, len, flags) */
SYS_ENTER(splice)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_SPLICE, AT_SRC_SPLICE, s.a[2], s.a[0], 0, 0);
}

static __always_inline int splice_exit(long ret)
{
	struct stash *st = stash_get();
	struct file *in, *out;
	struct at_splice_event *e;
	__u16 in_type, out_type, depth = 0;
	__u32 n = 0;

	if (!st || st->kind != AT_KIND_SPLICE)
		return 0;
	if (ret <= 0)
		goto done;
	out = file_of_fd((int)st->args[0]);
	in = file_of_fd((int)st->args[1]);
	out_type = file_type(out);
	in_type = file_type(in);
	/* Bytes reaching a socket are a send; a file spliced into a pipe is
	 * kept so that the pipe's next trip to a socket names the file. */
	if (out_type != AT_FILE_SOCKET && !(in_type == AT_FILE_REGULAR && out_type == AT_FILE_PIPE))
		goto done;
	e = (struct at_splice_event *)get_scratch();
	if (!e)
		goto done;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, AT_KIND_SPLICE);
	e->result = ret;
	e->source = st->source;
	e->out_fd = (__s32)st->args[0];
	e->in_fd = (__s32)st->args[1];
	e->in_type = in_type;
	e->out_type = out_type;
	if (in_type == AT_FILE_PIPE)
		e->in_pipe = pipe_id(in);
	if (out_type == AT_FILE_PIPE)
		e->out_pipe = pipe_id(out);
	if (out_type == AT_FILE_SOCKET) {
		struct sock *sk = sock_of_fd(e->out_fd, &e->sock_type);

		e->conn = conn_id(sk);
		sock_addrs(sk, &e->peer, &e->local);
	}
	if (in_type == AT_FILE_REGULAR)
		n = walk_dir(&e->h, sizeof(*e), BPF_CORE_READ(in, f_path.dentry),
			     BPF_CORE_READ(in, f_path.mnt), &depth);
	if (n > AT_DIR_MAX)
		n = AT_DIR_MAX;
	e->path_len = n;
	submit_scratch(&e->h, sizeof(*e) + n);
done:
	stash_drop();
	return 0;
}

SYS_EXIT(sendfile64) { return splice_exit((long)ctx->args[1]); }
SYS_EXIT(splice) { return splice_exit((long)ctx->args[1]); }

/* io_uring_setup(entries, params): a process that sets up a ring can open,
 * read and send without the syscalls the other handlers see. */
/* ---- mapping changes ------------------------------------------------------
 * Each forgets the remembered frame locations (locate_frame()) once the
 * change is made. */
#define SYS_EXIT_REMAP(name)                  \
	SYS_EXIT(name)                        \
	{                                     \
		if (stack_kinds && current_traced()) \
			forget_mappings();    \
		return 0;                     \
	}
SYS_EXIT_REMAP(munmap)
SYS_EXIT_REMAP(mremap)
SYS_EXIT_REMAP(brk)
SYS_EXIT_REMAP(shmdt)
SYS_EXIT_REMAP(remap_file_pages)

/* mmap(addr, length, prot, flags, fd, offset): only MAP_FIXED replaces
 * what was mapped. */
SYS_EXIT(mmap)
{
	if (!stack_kinds)
		return 0;
	ARGS_OR_OUT();
	if (s.a[3] & 0x10 /* MAP_FIXED */)
		forget_mappings();
	return 0;
}

SYS_ENTER(io_uring_setup)
{
	ARGS_OR_OUT();
	return save_args(AT_KIND_IO_URING, AT_SRC_IO_URING_SETUP, s.a[0], s.a[1], 0, 0);
}

#define IO_URING_RECORD (sizeof(struct at_io_uring_event) + AT_PATH_MAX)

SYS_EXIT(io_uring_setup)
{
	struct stash *st = stash_get();
	struct at_io_uring_event *e;

	if (!st || st->kind != AT_KIND_IO_URING)
		return 0;
	e = (struct at_io_uring_event *)get_scratch();
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		fill_header(&e->h, AT_KIND_IO_URING);
		e->result = (long)ctx->args[1];
		e->source = AT_SRC_IO_URING_SETUP;
		e->dirfd = AT_FDCWD;
		submit_scratch(&e->h, sizeof(*e));
	}
	stash_drop();
	return 0;
}

/* Operations each process has submitted once already (tgid << 8 | opcode):
 * the first of each is enough to name the gap. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} io_uring_seen SEC(".maps");

#define IORING_OP_OPENAT 18
#define IORING_OP_OPENAT2 28

/* Fires in the submitting task after the request was prepared (Linux 5.18+;
 * io_submit_sqe() runs the op's prep, which copies an open's path, before
 * it). */
SEC("tp/io_uring/io_uring_submit_req")
int handle_io_uring_submit_req(struct trace_event_raw_io_uring_submit_req *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 opcode = ctx->opcode;
	bool open = opcode == IORING_OP_OPENAT || opcode == IORING_OP_OPENAT2;
	__u64 key = (id >> 32) << 8 | opcode;
	struct at_io_uring_event *e;
	__u8 one = 1;
	long n;

	if (!is_traced(id >> 32))
		return 0;
	if (!open && bpf_map_lookup_elem(&io_uring_seen, &key))
		return 0;
	bpf_map_update_elem(&io_uring_seen, &key, &one, BPF_ANY);
	e = (struct at_io_uring_event *)get_scratch();
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->h, AT_KIND_IO_URING);
	e->source = AT_SRC_IO_URING_SUBMIT;
	e->opcode = opcode;
	e->dirfd = AT_FDCWD;
	if (open && bpf_core_type_exists(struct io_open)) {
		/* The request starts with its op's own data (io_kiocb.cmd). */
		struct io_open *op = (void *)ctx->req +
				     bpf_core_field_offset(struct io_kiocb, cmd);
		struct filename *name = BPF_CORE_READ(op, filename);

		e->dirfd = BPF_CORE_READ(op, dfd);
		n = bpf_probe_read_kernel_str((__u8 *)(e + 1), AT_PATH_MAX, BPF_CORE_READ(name, name));
		if (n > 0) {
			e->path_len = n - 1;
			if (n == AT_PATH_MAX)
				e->h.flags |= AT_F_PATH_TRUNCATED;
		} else {
			e->h.flags |= AT_F_READ_FAILED;
		}
	}
	submit_scratch(&e->h, sizeof(*e) + (e->path_len & (AT_PATH_MAX - 1)));
	return 0;
}
