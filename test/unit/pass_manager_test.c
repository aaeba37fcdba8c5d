/* Unit test of the pass manager's option accessors and pipeline parser
 * (what has no text form: option values as the passes read them). */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static int npass, nfail;

static void
check(bool ok, const char *what)
{
	if (ok) {
		npass++;
		return;
	}
	nfail++;
	fprintf(stderr, "FAIL: %s\n", what);
}

/* Parses spec with diagnostics captured; returns the error count and
 * leaves the text in buf. */
static int
parse_errors(const char *spec, char *buf, size_t size)
{
	pass_pipeline *p;
	nn_diag d;

	nn_diag_init(&d, "test", NULL);
	d.out = fmemopen(buf, size, "w");
	p = pass_pipeline_parse(spec, &d);
	fclose(d.out);
	pass_pipeline_free(p);
	check((p == NULL) == (d.nerrors > 0), spec);
	return d.nerrors;
}

static void
test_parse(void)
{
	char buf[512];

	check(parse_errors("", buf, sizeof buf) == 0, "empty pipeline");
	check(parse_errors("verify , shape-infer{a=1, b = x},verify", buf,
			   sizeof buf) == 0, "spaces and options");
	check(parse_errors("nope", buf, sizeof buf) == 1 &&
	      strstr(buf, "unknown pass 'nope'") &&
	      strstr(buf, "known passes: ") && strstr(buf, "shape-infer"),
	      "unknown pass lists known ones");
	check(parse_errors("verify{a=1", buf, sizeof buf) == 1 &&
	      strstr(buf, "lacks a closing '}'"), "unclosed options");
	check(parse_errors("verify{a=1,}", buf, sizeof buf) == 1,
	      "trailing comma in options");
	check(parse_errors("verify{a=b{c}", buf, sizeof buf) == 1,
	      "nested brace");
}

static void
test_options(void)
{
	pass_opt kv[] = { { "t", "0.25" }, { "n", "-12" }, { "bad", "1x" },
			  { "s", "global" } };
	pass_opts o = { 4, kv, NULL };
	char buf[512];
	nn_diag d;
	bool ok = true;

	nn_diag_init(&d, "test", NULL);
	d.out = fmemopen(buf, sizeof buf, "w");
	check(pass_opt_f64(&o, "p", "t", 1, &d, &ok) == 0.25 && ok, "f64");
	check(pass_opt_f64(&o, "p", "zz", 1.5, &d, &ok) == 1.5 && ok,
	      "f64 default");
	check(pass_opt_i64(&o, "p", "n", 0, &d, &ok) == -12 && ok, "i64");
	check(!strcmp(pass_opt_str(&o, "s", "x"), "global"), "str");
	check(!strcmp(pass_opt_str(&o, "zz", "x"), "x"), "str default");
	pass_opt_i64(&o, "p", "bad", 0, &d, &ok);
	check(!ok, "malformed int reported");
	ok = true;
	pass_opt_i64(&o, "p", "t", 0, &d, &ok);
	check(!ok, "float where an int is expected");
	check(pass_opts_allow(&o, "p", (const char *const[]){ "t", "n",
			      "bad", "s", NULL }, &d), "allowed keys");
	check(!pass_opts_allow(&o, "p", (const char *const[]){ "t", NULL },
			       &d), "unknown keys");
	fclose(d.out);
	check(strstr(buf, "pass 'p': option 'bad': expected an integer, got "
		      "'1x'") != NULL, "message names pass and key");
	check(strstr(buf, "pass 'p': unknown option 's'") != NULL,
	      "unknown option message");
}

int
main(void)
{
	test_parse();
	test_options();
	check(pass_lookup("verify") && !pass_lookup("verif"), "lookup");
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}
