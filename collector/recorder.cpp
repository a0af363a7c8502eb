#include "collector/recorder.h"

#include <bpf/libbpf.h>
#include <time.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "agenttrace.h"
#include "collector/host_info.h"
#include "collector/probes.h"
#include "collector/redactor.h"
#include "common/error.h"

namespace agenttrace::collector {

const char* kernel_kind_name(int kind) {
  switch (kind) {
#define AT_KIND_CASE(name, number, text) \
  case AT_KIND_##name:                    \
    return text;
    AT_KINDS(AT_KIND_CASE)
#undef AT_KIND_CASE
    default: return "";
  }
}

Recorder::Recorder(Probes* probes, LibraryProbes* env, int64_t wall_minus_mono)
    : probes_(probes),
      env_(env),
      decoder_(wall_minus_mono),
      network_([this](trace::Event& e) { dispatch(&e); }) {
  if (probes_) {
    rb_ = ring_buffer__new(probes_->ringbuf_fd(), &Recorder::on_ringbuf_record, this, nullptr);
    if (!rb_) throw Error("cannot set up the ring buffer reader: " + errno_text(errno));
  }
}

Recorder::~Recorder() {
  if (rb_) ring_buffer__free(rb_);
}

int Recorder::poll_fd() const { return rb_ ? ring_buffer__epoll_fd(rb_) : -1; }

void Recorder::remove_sink(trace::EventSink* sink) {
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), sink), sinks_.end());
}

void Recorder::set_stacks(std::unique_ptr<StackResolver> resolver, StackFilter keep) {
  stack_resolver_ = std::move(resolver);
  if (stack_resolver_) stack_resolver_->set_refusals(&refusals_);
  keep_stack_ = std::move(keep);
}

void Recorder::start(const trace::Header& header) {
  for (auto* s : sinks_) s->on_header(header);
}

int Recorder::on_ringbuf_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Recorder*>(ctx);
  try {
    self->handle_record(data, size);
  } catch (...) {
    // libbpf calls us from C: stop consuming and rethrow in drain().
    self->failure_ = std::current_exception();
    return -1;
  }
  return 0;
}

void Recorder::handle_record(const void* data, size_t size) {
  std::string error;
  uint16_t kind = Decoder::kind_of(data, size);
  if (kind == AT_KIND_SEND || kind == AT_KIND_RECV) {
    if (!decoder_.decode_data(data, size, &data_record_, &error)) {
      if (decode_errors_++ == 0) first_decode_error_ = error;
      return;
    }
    last_mono_ns_ = data_record_.event.mono_ns();
    network_.on_data(data_record_);
    return;
  }
  if (kind == AT_KIND_SPLICE) {
    if (!decoder_.decode_splice(data, size, &splice_record_, &error)) {
      if (decode_errors_++ == 0) first_decode_error_ = error;
      return;
    }
    last_mono_ns_ = splice_record_.data.event.mono_ns();
    if (splice_sources_.resolve(&splice_record_)) network_.on_data(splice_record_.data);
    return;
  }
  NetworkExtra extra;
  if (!decoder_.decode(data, size, &event_, &extra, &error)) {
    if (decode_errors_++ == 0) first_decode_error_ = error;
    spdlog::debug("undecodable record: {}", error);
    return;
  }
  last_mono_ns_ = event_.mono_ns();
  if (stack_resolver_ && (kind == AT_KIND_EXEC || kind == AT_KIND_OPEN)) stack_resolver_->observe(event_);
  if (event_.has_stack()) {
    // Resolved now, while the process and its memory map still exist.
    if (keep_stack_ && !keep_stack_(event_)) event_.clear_stack();
    else if (stack_resolver_) stack_resolver_->resolve(&event_);
  }
  switch (kind) {
    // The network tracker may hold these back: what stack resolution
    // refused is named now.
    case AT_KIND_CONNECT:
    case AT_KIND_BIND:
    case AT_KIND_LISTEN:
    case AT_KIND_ACCEPT:
    case AT_KIND_CLOSE:
      name_refusals(event_);
      network_.on_socket(event_, extra.kernel_conn);
      return;
    case AT_KIND_DNS:
      name_refusals(event_);
      network_.on_dns(event_);
      return;
    default:
      break;
  }
  dispatch(&event_);
  if (kind == AT_KIND_EXIT && stack_resolver_) stack_resolver_->forget(event_.pid());
  if (env_) {
    extra_.clear();
    env_->observe(event_, &extra_);
    for (auto& e : extra_) dispatch(&e);
  }
  name_refusals(event_);
}

void Recorder::emit(trace::Event event) {
  dispatch(&event);
  name_refusals(event);
}

void Recorder::name_refusals(const trace::Event& cause) {
  if (!refusals_.pending()) return;
  for (auto& e : refusals_.take(cause)) dispatch(&e);
}

void Recorder::dispatch(trace::Event* event) {
  if (redactor_) redactor_->redact_event(event);
  event->set_id(next_id_++);
  recorded_[std::string(trace::event_kind(*event))]++;
  for (auto* s : sinks_) s->on_event(*event);
  if (after_event_ && !in_after_event_) {
    in_after_event_ = true;
    after_event_();
    in_after_event_ = false;
  }
}

void Recorder::drain() {
  if (!rb_) return;
  int n = ring_buffer__consume(rb_);
  if (failure_) {
    auto f = failure_;
    failure_ = nullptr;
    std::rethrow_exception(f);
  }
  if (n < 0 && n != -EINTR) spdlog::warn("reading the ring buffer failed: {}", errno_text(-n));
  network_.flush_held(last_mono_ns_, false);
}

void Recorder::flush() {
  for (auto* s : sinks_) s->flush();
}

void Recorder::emit_late_jit_symbols() {
  if (!stack_resolver_) return;
  ClockPair now = read_clocks();
  for (auto& e : stack_resolver_->late_jit_symbols()) {
    e.set_mono_ns(now.mono_ns);
    e.set_wall_ns(now.wall_ns);
    dispatch(&e);
    name_refusals(e);  // a map that grew past its limit since
  }
}

trace::Trailer Recorder::finish(int exit_status, bool target_exited) {
  network_.finish();
  emit_late_jit_symbols();
  trace::Trailer t = trailer(exit_status, target_exited);
  if (decode_errors_) spdlog::warn("{} records could not be decoded (first: {})", decode_errors_, first_decode_error_);
  for (auto* s : sinks_) s->on_trailer(t);
  return t;
}

trace::Trailer Recorder::trailer(int exit_status, bool target_exited) {
  trace::Trailer t;
  t.set_events(events());
  t.set_end_wall_ns(read_clocks().wall_ns);
  t.set_decode_errors(decode_errors_);
  t.set_exit_status(exit_status);
  t.set_target_exited(target_exited);
  at_counters c{};
  if (probes_) c = probes_->read_counters();
  t.set_stash_full(c.stash_full);
  t.set_filter_full(c.filter_full);
  t.set_compat_syscalls(c.compat_syscalls);
  t.set_payload_bytes(c.payload_bytes);
  t.set_payload_truncated(c.payload_truncated);
  t.set_payload_gaps(network_.payload_gaps());
  for (int k = 1; k < AT_KIND_MAX; ++k) {
    const char* name = kernel_kind_name(k);
    if (!*name) continue;
    auto* kc = t.add_kinds();
    kc->set_kind(name);
    kc->set_emitted(c.kinds[k].emitted);
    kc->set_dropped(c.kinds[k].dropped);
    kc->set_read_failed(c.kinds[k].read_failed);
    kc->set_truncated(c.kinds[k].truncated);
    kc->set_pairing_full(c.ustash_full[k]);
    kc->set_unfinished(c.unfinished[k]);
    auto it = recorded_.find(name);
    kc->set_recorded(it == recorded_.end() ? 0 : it->second);
  }
  if (auto it = recorded_.find("coverage"); it != recorded_.end()) {
    auto* kc = t.add_kinds();
    kc->set_kind("coverage");
    kc->set_recorded(it->second);
  }
  if (redactor_)
  {
    for (const auto& [kind, n] : redactor_->counts()) (*t.mutable_redacted())[kind] = n;
    for (const auto& [hash, kind] : redactor_->secret_kinds()) (*t.mutable_redacted_secrets())[hash] = kind;
  }
  // Sinks add what they know (the export's counts).
  for (auto* s : sinks_) s->complete_trailer(&t);
  return t;
}

}  // namespace agenttrace::collector
