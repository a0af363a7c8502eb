// Reads the MAC address of the loopback interface the way C programs (and
// libuuid's node id) enumerate interfaces: ioctl SIOCGIFNAME for the name of
// interface 1, then SIOCGIFHWADDR on it. agenttrace records both as
// host_query events, with this program's functions as the callers.
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((noinline)) static int interface_name(int fd, int index, char* name) {
  struct ifreq r;
  memset(&r, 0, sizeof(r));
  r.ifr_ifindex = index;
  if (ioctl(fd, SIOCGIFNAME, &r) != 0) return -1;
  memcpy(name, r.ifr_name, IFNAMSIZ);
  return 0;
}

__attribute__((noinline)) static int read_mac(int fd, const char* name, unsigned char* mac) {
  struct ifreq r;
  memset(&r, 0, sizeof(r));
  strncpy(r.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &r) != 0) return -1;
  memcpy(mac, r.ifr_hwaddr.sa_data, 6);
  return 0;
}

int main(void) {
  char name[IFNAMSIZ] = {0};
  unsigned char mac[6];
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || interface_name(fd, 1, name) != 0 || read_mac(fd, name, mac) != 0) {
    perror("if_hwaddr");
    return 1;
  }
  printf("%s %02x:%02x:%02x:%02x:%02x:%02x\n", name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  close(fd);
  return 0;
}
