/*
 * virtbench example workload: syscall latency.
 *
 * The cost of entering and leaving the kernel is what isolation layers change
 * most: a container pays nothing extra, a VM pays for its MMU and interrupt
 * virtualization, a user-space kernel (gVisor) intercepts every call, and a
 * binary translator emulates the trap. This times `count` getppid() system
 * calls, made with syscall() so that no libc cache answers instead of the
 * kernel, and reports the mean nanoseconds per call.
 *
 * usage: syscall <count>
 * output: RESULT value=<ns per call> unit=ns seconds=<seconds> calls=<count>
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  long count = argc > 1 ? atol(argv[1]) : 1000000;
  if (count < 1) {
    fprintf(stderr, "syscall: count must be at least 1 (got %s)\n", argc > 1 ? argv[1] : "");
    return 64;
  }
  long parent = 0;
  double start = now_seconds();
  for (long i = 0; i < count; i++) parent += syscall(SYS_getppid);
  double elapsed = now_seconds() - start;
  if (parent == 0) fprintf(stderr, "syscall: getppid returned 0\n");
  printf("RESULT value=%.3f unit=ns seconds=%.6f calls=%ld\n", elapsed * 1e9 / (double)count, elapsed, count);
  return 0;
}
