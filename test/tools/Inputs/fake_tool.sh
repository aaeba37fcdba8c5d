#!/bin/sh
# Not a test by itself: a tool whose --help lists an option it refuses,
# for man.test to show that check_man.py catches it.
if [ "$1" = --help ]; then
	printf 'usage: fake\n  --frob                  frobnicate\n'
else
	echo "fake: error: unknown option '$1' (see --help)" >&2
	exit 1
fi
