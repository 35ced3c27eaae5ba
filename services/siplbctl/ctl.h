#ifndef SIPLB_SIPLBCTL_CTL_H
#define SIPLB_SIPLBCTL_CTL_H

/* siplbctl commands kept out of main.c. */

/* node drain|undrain ID [--pause-inbound] [--no-wait] [--wait S]:
 * argv[0] is "drain" or "undrain". */
int ctl_drain(const char *sched_rep, int timeout_ms, int json, int argc,
    char **argv);

/* The node's feedback state after its line in `siplbctl nodes`. */
struct Siplb__V1__Node;
void ctl_print_feedback(const struct Siplb__V1__Node *n);

#endif
