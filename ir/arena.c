/* Arenas and checked allocation. With NNCC_ARENA_DEBUG every arena
 * allocation is its own malloc, so ASan and valgrind see exact bounds. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define CHUNK_SIZE ((size_t)1 << 16)
#define ALIGN 64

typedef struct chunk {
	struct chunk *next;
	size_t used, size;
	_Alignas(ALIGN) unsigned char data[];
} chunk;

struct nn_arena {
	chunk *head;
};

static _Noreturn void
oom(size_t size)
{
	fprintf(stderr, "nncc: fatal: out of memory allocating %zu bytes\n",
		size);
	abort();
}

void *
nn_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *
nn_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *
nn_xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

char *
nn_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(nn_xmalloc(n), s, n);
}

nn_arena *
nn_arena_new(void)
{
	return nn_xcalloc(1, sizeof(nn_arena));
}

void
nn_arena_free(nn_arena *a)
{
	if (!a)
		return;
	for (chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

static chunk *
new_chunk(size_t size)
{
	if (size > SIZE_MAX - sizeof(chunk))
		oom(size);
	chunk *c = aligned_alloc(ALIGN, (sizeof(chunk) + size + ALIGN - 1) /
						ALIGN * ALIGN);
	if (!c)
		oom(size);
	c->used = 0;
	c->size = size;
	return c;
}

void *
nn_alloc(nn_arena *a, size_t size)
{
	size_t rounded = (size + ALIGN - 1) / ALIGN * ALIGN;
	if (rounded < size)
		oom(size);
#ifdef NNCC_ARENA_DEBUG
	chunk *c = new_chunk(size);
	c->next = a->head ? a->head->next : NULL;
	if (a->head)
		a->head->next = c;
	else
		a->head = c;
	c->used = size;
	return memset(c->data, 0, size);
#else
	chunk *c = a->head;
	if (!c || c->size - c->used < rounded) {
		size_t sz = rounded > CHUNK_SIZE / 4 ? rounded : CHUNK_SIZE;
		chunk *nc = new_chunk(sz);
		/* A big private chunk goes behind the head, so the head keeps
		 * serving small allocations. */
		if (c && sz != CHUNK_SIZE) {
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += rounded;
	return memset(p, 0, size);
#endif
}

void *
nn_alloc_array(nn_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom(SIZE_MAX);
	return nn_alloc(a, n * size);
}

char *
nn_strdup(nn_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(nn_alloc(a, n), s, n);
}
