/*
 * <kvmem/vm_types.h> -- the machine-independent VM types shared by the
 * pmap_sim, vm_map and kmem layers, with FreeBSD's names and amd64 widths.
 */
#ifndef KVMEM_VM_TYPES_H
#define KVMEM_VM_TYPES_H

#include <stdint.h>

typedef uint64_t	vm_offset_t;	/* a (simulated) virtual address */
typedef uint64_t	vm_paddr_t;	/* a simulated physical address */
typedef uint64_t	vm_pindex_t;	/* a page index within an object */
typedef uint64_t	vm_size_t;	/* a length in bytes */
typedef int64_t		vm_ooffset_t;	/* an offset within an object */
typedef uint8_t		vm_prot_t;	/* VM_PROT_* bits */
typedef uint8_t		vm_memattr_t;	/* VM_MEMATTR_* */
typedef uint8_t		vm_inherit_t;	/* VM_INHERIT_* */

typedef struct vm_object	*vm_object_t;	/* a page owner (opaque) */

#ifndef VM_PROT_NONE
#define VM_PROT_NONE		((vm_prot_t)0x00)
#define VM_PROT_READ		((vm_prot_t)0x01)
#define VM_PROT_WRITE		((vm_prot_t)0x02)
#define VM_PROT_EXECUTE		((vm_prot_t)0x04)
#define VM_PROT_RW		((vm_prot_t)(VM_PROT_READ | VM_PROT_WRITE))
#define VM_PROT_ALL		((vm_prot_t)(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE))
#endif

/* Inheritance (values as FreeBSD <vm/vm.h>). */
#ifndef VM_INHERIT_SHARE
#define VM_INHERIT_SHARE	((vm_inherit_t)0)
#define VM_INHERIT_COPY		((vm_inherit_t)1)
#define VM_INHERIT_NONE		((vm_inherit_t)2)
#define VM_INHERIT_ZERO		((vm_inherit_t)3)
#define VM_INHERIT_DEFAULT	VM_INHERIT_COPY
#endif

#endif /* KVMEM_VM_TYPES_H */
