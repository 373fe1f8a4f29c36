/*
 * <kvmem/export.h> -- symbol visibility for the kvmem library.
 *
 * The library is built with hidden visibility; only declarations marked
 * KVMEM_EXPORT are part of its ABI (and matched by lib/kvmem.map).
 */
#ifndef KVMEM_EXPORT_H
#define KVMEM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define KVMEM_EXPORT __attribute__((visibility("default")))
#else
#define KVMEM_EXPORT
#endif

#endif /* KVMEM_EXPORT_H */
