// Attach target: already running when agenttrace attaches. It waits for
// SIGUSR1 (sent once the tracer is in place), then starts two children
// that look at the host, waits for them, and exits 0. Without a signal
// within 30 seconds it exits 3, so a broken test cannot leave it behind.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go = 0;
static void on_usr1(int sig) { (void)sig; go = 1; }

int main(void) {
  signal(SIGUSR1, on_usr1);
  for (int i = 0; i < 300 && !go; i++) usleep(100000);
  if (!go) return 3;
  pid_t a = fork();
  if (a == 0) {
    execl("/bin/cat", "cat", "/etc/machine-id", (char *)NULL);
    _exit(127);
  }
  pid_t b = fork();
  if (b == 0) {
    execl("/bin/sh", "sh", "-c", "echo \"tz=$TZ\"", (char *)NULL);
    _exit(127);
  }
  int status;
  while (wait(&status) > 0) {
  }
  return 0;
}
