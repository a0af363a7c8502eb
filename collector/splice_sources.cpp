#include "collector/splice_sources.h"

namespace agenttrace::collector {

bool SpliceSources::resolve(SpliceRecord* r) {
  if (r->file_to_pipe) {
    if (pipe_file_.size() >= kMaxPipes && !pipe_file_.count(r->out_pipe)) pipe_file_.clear();
    pipe_file_[r->out_pipe] = r->in_path;
    return false;
  }
  if (!r->to_socket) return false;
  std::string source;
  if (r->from_file) {
    source = r->in_path;
  } else if (r->in_pipe) {
    auto it = pipe_file_.find(r->in_pipe);
    if (it != pipe_file_.end()) source = it->second;
  }
  if (!source.empty()) r->data.event.mutable_send()->set_source_file(source);
  return true;
}

}  // namespace agenttrace::collector
