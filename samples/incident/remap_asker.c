// Loads libasker_a.so, asks for HTTPS_PROXY through it, unloads it, then loads
// libasker_b.so, which lands where A was, and asks for TZ through it:
// a stack must name ask_b, not what used to be mapped at that address.
// Prints both load addresses; exits 3 when B landed elsewhere.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef const char *(*asker)(const char *);

static void *ask(const char *dir, const char *lib, const char *fn, const char *name) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", dir, lib);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "remap_asker: %s\n", dlerror());
    return NULL;
  }
  asker f = (asker)dlsym(h, fn);
  Dl_info info;
  dladdr((void *)f, &info);
  const char *v = f(name);
  printf("%s at %p: %s=%s\n", lib, info.dli_fbase, name, v ? v : "-");
  void *base = info.dli_fbase;
  dlclose(h);
  return base;
}

int main(int argc, char **argv) {
  (void)argc;
  char self[PATH_MAX];
  strncpy(self, argv[0], sizeof(self) - 1);
  self[sizeof(self) - 1] = '\0';
  const char *dir = dirname(self);
  void *a = ask(dir, "libasker_a.so", "ask_a", "HTTPS_PROXY");
  void *b = ask(dir, "libasker_b.so", "ask_b", "TZ");
  if (!a || !b) return 1;
  fflush(stdout);
  return a == b ? 0 : 3;
}
