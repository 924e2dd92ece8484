/*
 * The clock every workload times itself with: CLOCK_MONOTONIC in seconds. Included by each program
 * (its build hashes this file too, so a change here rebuilds them all).
 */
#ifndef VIRTBENCH_CLOCK_H
#define VIRTBENCH_CLOCK_H
#include <time.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
