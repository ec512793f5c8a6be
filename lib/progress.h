/* progress.h -- one status line on a terminal while long work runs
 *
 * Tasks (one per layer being read) register their size and a counter they
 * bump; a background thread redraws a single line on stderr four times a
 * second: layers done, bytes and MB/s of the ones in flight.  Nothing is
 * drawn when stderr is not a terminal or progress is off (--quiet).
 *
 * Ownership: progress_stop() frees the struct; task names are copied, and a
 * task's counter must stay valid until the task is finished or the progress
 * stopped.  Errors: none reported: progress_start returns NULL (drawing
 * nothing) when off, not a terminal, or out of resources; progress_add
 * returns a task id, or -1 (ignored by progress_finish_task) when full.
 * Thread safety: tasks may be added and finished from any thread.
 */
#ifndef SOCI_PROGRESS_H
#define SOCI_PROGRESS_H

#include <stdint.h>

struct progress;

/* NULL (and every call a no-op) unless enabled and stderr is a tty */
struct progress *progress_start(const char *prog, int enabled);
/* a task; *done is read without locking (a counter the task increments) */
int progress_add(struct progress *p, const char *name, int64_t total, volatile int64_t *done);
void progress_finish_task(struct progress *p, int id);
/* stop the thread and erase the line */
void progress_stop(struct progress *p);

#endif
