/* Files as a compiler treats them: outputs written atomically when they are
 * regular files and in place when they are devices or FIFOs, inputs read
 * only from regular files. Every tool opens its files here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir.h"

/* Symlinks followed before giving up, as the kernel's own limit. */
#define MAX_LINKS 40

/* "TOOL: error: PATH: MSG": the file named is the one that failed, not
 * the model d reports on. */
static void
file_error(nn_diag *d, const char *path, const char *msg)
{
	nn_error_tool(d, "%s: %s", path, msg);
}

/* The folder of path, with a trailing '/' ("" for the current one);
 * malloc'd. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) + 1 : 0;
	char *s = nn_xmalloc(n + 1);

	memcpy(s, path, n);
	s[n] = '\0';
	return s;
}

/* The path a write to path reaches once every symlink is followed (the
 * last one may dangle: its target is what gets created); malloc'd, or
 * NULL with errno set (ELOOP, or readlink's error). */
static char *
resolve_links(const char *path)
{
	char *p = nn_xstrdup(path), buf[PATH_MAX];
	struct stat st;

	for (int i = 0; i < MAX_LINKS; i++) {
		if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
			return p;
		ssize_t n = readlink(p, buf, sizeof buf - 1);
		if (n < 0) {
			free(p);
			return NULL;
		}
		buf[n] = '\0';
		char *dir = buf[0] == '/' ? nn_xstrdup("") : dir_of(p);
		char *next = nn_xmalloc(strlen(dir) + (size_t)n + 1);
		strcpy(stpcpy(next, dir), buf);
		free(dir);
		free(p);
		p = next;
	}
	free(p);
	errno = ELOOP;
	return NULL;
}

/* A temporary next to target (same folder, so rename is atomic), with the
 * mode a new file gets: 0666 less the umask (mkstemp makes 0600). */
static FILE *
open_temp(nn_outfile *o)
{
	char *dir = dir_of(o->target);
	const char *base = o->target + strlen(dir);
	size_t n = strlen(dir) + strlen(base) + 16;
	mode_t mask = umask(0);
	int fd;

	umask(mask);
	o->tmp = nn_xmalloc(n);
	/* a hidden name, cut short so that NAME_MAX still holds */
	snprintf(o->tmp, n, "%s.%.200s.XXXXXX", dir, base);
	free(dir);
	fd = mkstemp(o->tmp);
	if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0 ||
	    !(o->f = fdopen(fd, "wb"))) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		errno = e;
		return NULL;
	}
	return o->f;
}

/* A device, FIFO or socket: written where it is, never replaced. */
static FILE *
open_in_place(nn_outfile *o)
{
	int fd = open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return NULL;
	}
	return o->f;
}

FILE *
nn_out_open(nn_outfile *o, const char *path, nn_diag *d)
{
	struct stat st;

	memset(o, 0, sizeof *o);
	o->path = path;
	if (!strcmp(path, "-"))
		return o->f = stdout;
	if (!(o->target = resolve_links(path))) {
		file_error(d, path, strerror(errno));
		return NULL;
	}
	if (stat(o->target, &st) != 0) {
		if (errno != ENOENT) {
			file_error(d, path, strerror(errno));
			return nn_out_close(o, false, d), NULL;
		}
	} else if (S_ISDIR(st.st_mode)) {
		file_error(d, path, "is a directory");
		return nn_out_close(o, false, d), NULL;
	} else if (!S_ISREG(st.st_mode)) {
		if (!open_in_place(o))
			file_error(d, path, strerror(errno));
		return o->f ? o->f : (nn_out_close(o, false, d), NULL);
	}
	if (!open_temp(o)) {
		file_error(d, path, strerror(errno));
		return nn_out_close(o, false, d), NULL;
	}
	return o->f;
}

/* Flushes and closes f (stdout is only flushed); the errno of the first
 * failure, or 0. A stream whose error flag is already set failed in a
 * write just before the close, so errno still holds that write's reason
 * when the flush itself has nothing to say. */
static int
finish_stream(FILE *f)
{
	int before = errno, e = 0;
	bool failed = ferror(f) != 0;

	errno = 0;
	if (fflush(f) != 0)
		e = errno ? errno : EIO;
	else if (failed)
		e = before ? before : EIO;
	if (f != stdout && fclose(f) != 0 && !e)
		e = errno ? errno : EIO;
	return e;
}

bool
nn_out_close(nn_outfile *o, bool ok, nn_diag *d)
{
	int e = o->f ? finish_stream(o->f) : 0;

	if (e && ok) {
		file_error(d, o->f == stdout ? "<stdout>" : o->path,
			   strerror(e));
		ok = false;
	}
	if (o->tmp && ok && rename(o->tmp, o->target) != 0) {
		file_error(d, o->path, strerror(errno));
		ok = false;
	}
	if (o->tmp && !ok)
		unlink(o->tmp);
	free(o->tmp);
	free(o->target);
	memset(o, 0, sizeof *o);
	return ok;
}

bool
nn_out_write_file(const char *path, const void *buf, size_t len, nn_diag *d)
{
	nn_outfile o;
	FILE *f = nn_out_open(&o, path, d);

	if (!f)
		return false;
	/* a short write leaves the error flag set; the close reports it */
	fwrite(buf, 1, len, f);
	return nn_out_close(&o, true, d);
}

void
nn_out_remove(const char *path)
{
	struct stat st;

	if (strcmp(path, "-") && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		unlink(path);
}

FILE *
nn_in_open(const char *path, const char **why)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer before
	 * fstat can refuse it */
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f = NULL;

	*why = NULL;
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	*why = fstat(fd, &st) != 0 ? strerror(errno)
	     : S_ISDIR(st.st_mode) ? "is a directory"
	     : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
	if (!*why && (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ||
		      !(f = fdopen(fd, "rb"))))
		*why = strerror(errno);
	if (*why) {
		close(fd);
		return NULL;
	}
	return f;
}

char *
nn_in_read(const char *path, size_t *len, const char **why)
{
	FILE *f = nn_in_open(path, why);
	size_t cap = 1 << 16, n = 0, got;
	char *buf;

	if (!f)
		return NULL;
	buf = nn_xmalloc(cap);
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0)
		if ((n += got) == cap - 1)
			buf = nn_xrealloc(buf, cap *= 2);
	if (ferror(f)) {
		*why = strerror(errno);
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		*len = n;
	}
	fclose(f);
	return buf;
}
