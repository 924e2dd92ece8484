/*
 * virtbench's process in a session container of the user's own image, which may have no shell,
 * sleep or timeout (FROM scratch): a static binary of ours, put into the created container before
 * it starts.
 *
 *   virtbench-idle                                    waits, doing nothing, until told to stop (the
 *                                                     container's command; the engine's init is PID 1
 *                                                     and reaps the servers workloads daemonize)
 *   virtbench-idle timeout KILL_AFTER SECONDS ARGV... runs ARGV as coreutils' `timeout
 *                                                     --kill-after=KILL_AFTER SECONDS` does: exit 124
 *                                                     when the limit passed (137 once it had to kill),
 *                                                     127 for a program not found, 126 for one that
 *                                                     cannot run (another architecture's: "Exec format
 *                                                     error"), else ARGV's own status (128+signal)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void stop(int signal) {
  (void)signal;
  _exit(0);
}

static volatile sig_atomic_t expired = 0;

static void on_alarm(int signal) {
  (void)signal;
  expired++;
}

static int run_with_timeout(double kill_after, double seconds, char **argv) {
  pid_t child = fork();
  if (child < 0) {
    perror("virtbench-idle: fork");
    return 125;
  }
  if (child == 0) {
    setpgid(0, 0);
    execvp(argv[0], argv);
    int code = errno == ENOENT ? 127 : 126;
    fprintf(stderr, "%s: %s%s\n", argv[0], code == 127 ? "command not found: " : "cannot execute: ", strerror(errno));
    _exit(code);
  }
  setpgid(child, child);
  struct sigaction action = {0};
  action.sa_handler = on_alarm;
  sigaction(SIGALRM, &action, NULL);
  struct itimerval timer = {0};
  timer.it_value.tv_sec = (time_t)seconds;
  timer.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
  if (seconds > 0) setitimer(ITIMER_REAL, &timer, NULL);
  int status = 0;
  int killed = 0;
  for (;;) {
    pid_t done = waitpid(child, &status, 0);
    if (done == child) break;
    if (done < 0 && errno != EINTR) {
      perror("virtbench-idle: waitpid");
      return 125;
    }
    if (expired == 1 && !killed) {
      kill(-child, SIGTERM);
      killed = 1;
      struct itimerval grace = {0};
      grace.it_value.tv_sec = (time_t)kill_after;
      grace.it_value.tv_usec = (suseconds_t)((kill_after - (double)(time_t)kill_after) * 1e6);
      setitimer(ITIMER_REAL, &grace, NULL);
    } else if (expired >= 2 && killed == 1) {
      kill(-child, SIGKILL);
      killed = 2;
    }
  }
  if (killed == 2) return 137;
  if (killed == 1) return 124;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "timeout") == 0) return run_with_timeout(atof(argv[2]), atof(argv[3]), argv + 4);
  if (argc != 1) {
    fprintf(stderr, "usage: virtbench-idle | virtbench-idle timeout KILL_AFTER SECONDS ARGV...\n");
    return 125;
  }
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  for (;;) pause();
}
