/* nncc-run: not written yet. */
int main(void) { return 1; }
