/* Private to print.c and parse.c: the number and string spellings both
 * must agree on for the text form to round-trip exactly. */
#ifndef NNCC_IR_TEXT_H
#define NNCC_IR_TEXT_H

#include "ir.h"

/* Constant data elements and attribute floats are printed as the shortest
 * %.Ng text that reads back to the same bits; buffers of this size hold
 * any of them. */
#define IR_NUM_BUF 48

/* Element i of data (dtype t) as text: shortest round-trip floats, "nan",
 * "inf", "-inf", decimal integers, "true"/"false". */
void ir_fmt_elem(char *buf, const void *data, ir_dtype t, int64_t i);
/* Reads the text of a float element into element i of data; the exact
 * inverse of ir_fmt_elem for float dtypes. */
void ir_read_float_elem(const char *text, void *data, ir_dtype t, int64_t i);
/* A float attribute: shortest f32 text (at most 9 significant digits) if
 * the double is an exact f32 (ONNX float attributes always are), else
 * %.16e (always 17 digits), so the parser can tell them apart; always
 * with a '.', 'e', "nan" or "inf", so that it never reads as an int. */
void ir_fmt_attr_float(char *buf, double v);
/* Quoted, with \\ \" \n \t and \xHH escapes. */
void ir_print_str(FILE *f, const char *s);
/* Whether s prints bare after % or @: [A-Za-z_][A-Za-z0-9_]*. */
bool ir_is_plain_name(const char *s);

#endif
