/*
 * <kvmem/statfile.h> -- snapshots of every live arena, simulated machine
 * and kmem instance of the process, as one JSON document (schema
 * "kvmem-stats", version 1), for kvmemstat(1) and kvmem-picture(1).
 *
 * kvmem_statfile_write() writes one snapshot atomically (a temporary file
 * in the same directory, then rename), so a reader never sees half a
 * file.  kvmem_statfile_start() is the opt-in hook for a running program:
 * a background thread rewrites the file every interval until
 * kvmem_statfile_stop().  The format is defined in kvmem_statfile(3),
 * section FORMAT.
 */
#ifndef KVMEM_STATFILE_H
#define KVMEM_STATFILE_H

#include <stddef.h>

#include <kvmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The snapshot format version this library writes. */
#define KVMEM_STATFILE_VERSION	1

/* Flags. */
#define KVMEM_STATFILE_SEGMENTS	0x0001	/* add every arena's segments (vmem_walk) */
#define KVMEM_STATFILE_UNLINK	0x0002	/* kvmem_statfile_stop() removes the file */

/*
 * Write a snapshot to path (NULL: the default path, see
 * kvmem_statfile_path()).  flags: KVMEM_STATFILE_SEGMENTS.  Returns 0, or
 * an errno value (EINVAL for unknown flags, ENOMEM, or what creating,
 * writing or renaming the file failed with); on failure no temporary file
 * is left behind and an existing file at path is unchanged.
 */
KVMEM_EXPORT int kvmem_statfile_write(const char *path, int flags);

/*
 * The snapshot as a string, as snprintf() does: at most len bytes
 * (including the NUL) are stored in buf (which may be NULL when len is 0)
 * and the full length is returned.  -1 with errno EINVAL (unknown flags)
 * or ENOMEM.
 */
KVMEM_EXPORT int kvmem_statfile_json(char *buf, size_t len, int flags);

/*
 * The default snapshot path as snprintf() does: $KVMEM_STATFILE when set
 * and not empty, else ${TMPDIR:-/tmp}/kvmem-<pid>.json with this process's
 * pid.
 */
KVMEM_EXPORT int kvmem_statfile_path(char *buf, size_t len);

/*
 * Write a snapshot to path (NULL: the default path) now, then start a
 * thread that rewrites it every interval_ms milliseconds (0: 1000).
 * flags: KVMEM_STATFILE_SEGMENTS, KVMEM_STATFILE_UNLINK.  Returns 0;
 * EBUSY if a writer thread is already running; EINVAL for unknown flags;
 * the errno of the first write (no thread is started then); or what
 * pthread_create() returned.  Failures of later rewrites are counted, not
 * reported (see kvmem_statfile_errors()).
 */
KVMEM_EXPORT int kvmem_statfile_start(const char *path, unsigned interval_ms, int flags);

/*
 * Stop the writer thread (if any) and wait for it: the file keeps the last
 * snapshot, or is removed when the thread was started with
 * KVMEM_STATFILE_UNLINK.  Must not be called from the writer thread.
 */
KVMEM_EXPORT void kvmem_statfile_stop(void);

/* Rewrites by the writer thread that failed since kvmem_statfile_start(). */
KVMEM_EXPORT unsigned long kvmem_statfile_errors(void);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_STATFILE_H */
