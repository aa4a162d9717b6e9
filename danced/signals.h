/*
 * signals.h - signals to the event loop: SIGHUP reloads, SIGTERM/SIGINT stop.
 */
#ifndef DANCE_DANCED_SIGNALS_H
#define DANCE_DANCED_SIGNALS_H

#include <stdbool.h>

typedef struct danced danced;
struct event;

/* signals_install - handlers for HUP, TERM and INT, and their event on d's loop (*ev); false on failure. */
bool signals_install(danced *d, struct event **ev);

#endif
