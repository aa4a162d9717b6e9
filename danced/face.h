/*
 * face.h - how the process drives a face: what a face registers when it
 * is opened.
 *
 * A face (policy/, milter/) binds its listener in its open function -
 * before daemonizing and dropping privileges, so problems reach the
 * terminal - and registers it with danced_add_face().  From then on the
 * daemon drives the listener (listen.h): starts it once the event loop
 * exists, gives it a new connection limit on reload, stops and drains it
 * on SIGTERM, closes what is left at the deadline, frees it at the end.
 * The face itself is asked only to take over each accepted connection,
 * and to be freed.  main.c is the one file that names the faces (it calls
 * their open functions).
 *
 * SEE ALSO
 *	danced.h (what a face may ask the daemon), listen.h
 */
#ifndef DANCE_DANCED_FACE_H
#define DANCE_DANCED_FACE_H

#include <stddef.h>

typedef struct danced danced;
typedef struct listener listener;
struct dance_config;

#define DANCED_FACES_MAX 4

typedef struct danced_face_ops {
    const char *name;                 /* "policy", "milter": logs and danced_admit() */
    const char *limit_key;            /* the configuration key of its connection limit */
    /* the connection limit cfg asks for (the open-file limit may cut it) */
    size_t (*limit)(const struct dance_config *cfg);
    /* take over a connected, non-blocking fd (listen_conn_add), or close it */
    void (*accept)(void *face, int fd, const char *peer);
    /* release the face: its connections are closed and its listener freed already */
    void (*free)(void *face);
} danced_face_ops;

/* danced_add_face - (a face's open function) register an opened face and its listener. */
void danced_add_face(danced *d, const danced_face_ops *ops, void *face, listener *srv);

#endif
