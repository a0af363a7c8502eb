// The signals agenttrace handles itself (through a signalfd) rather than
// dying of: blocked as the process starts, so a Ctrl-C or SIGTERM that
// arrives while the BPF programs are still loading is acted on once
// recording runs, instead of killing agenttrace half-way.
#pragma once

#include <signal.h>

namespace agenttrace {

// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2.
const sigset_t& handled_signals();
// Blocks them (once); the mask from before is kept for the traced command.
void block_handled_signals();
// The signal mask agenttrace started with.
const sigset_t& original_signal_mask();
// Unblocks them again (a session has ended).
void restore_signal_mask();

}  // namespace agenttrace
