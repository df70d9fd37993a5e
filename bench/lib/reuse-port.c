/*
 * LD_PRELOAD shim for the bench's --ours-processes: every IPv4/IPv6 socket a process binds gets
 * SO_REUSEPORT first, so several workerd processes can listen on one port and the kernel spreads
 * connections over them, as a pre-forked server's workers share one (Feast's gunicorn workers do).
 * workerd has no such option of its own, and Miniflare chooses its listening sockets itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real_bind)(int, const struct sockaddr *, socklen_t);
  if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
  if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  }
  return real_bind(fd, addr, len);
}
