#include "common/signals.h"

#include <initializer_list>

namespace agenttrace {

namespace {

struct State {
  sigset_t handled;
  sigset_t original;
  bool blocked = false;
  State() {
    sigemptyset(&handled);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&handled, sig);
    sigprocmask(SIG_SETMASK, nullptr, &original);
  }
};

State& state() {
  static State s;
  return s;
}

}  // namespace

const sigset_t& handled_signals() { return state().handled; }

void block_handled_signals() {
  State& s = state();
  if (s.blocked) return;
  sigset_t before;
  sigprocmask(SIG_BLOCK, &s.handled, &before);
  s.original = before;
  s.blocked = true;
}

const sigset_t& original_signal_mask() { return state().original; }

void restore_signal_mask() {
  State& s = state();
  if (!s.blocked) return;
  sigprocmask(SIG_SETMASK, &s.original, nullptr);
  s.blocked = false;
}

}  // namespace agenttrace
