#include "work_pool.h"
#include "alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    void (*fn)(void *);
    void *arg;
    struct job *next;
} job;

struct pit_work_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    job *head, *tail;
    int pending;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

static void *work_thread(void *arg) {
    pit_work_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cond, &p->mu);
        if (!p->head) break;
        job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&p->mu);
        p->pending--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

pit_work_pool *pit_work_pool_create(int threads, const char *name) {
    pit_work_pool *p = pit_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->nthreads = threads < 1 ? 1 : threads;
    p->threads = pit_calloc((size_t)p->nthreads, sizeof(pthread_t));
    for (int i = 0; i < p->nthreads; i++) {
        pthread_create(&p->threads[i], NULL, work_thread, p);
        char tname[32]; /* the kernel keeps 15 characters */
        snprintf(tname, sizeof tname, "%.10s-%d", name, i % 1000);
        tname[15] = 0;
        pthread_setname_np(p->threads[i], tname);
    }
    return p;
}

void pit_work_pool_submit(pit_work_pool *p, void (*fn)(void *), void *arg) {
    job *j = pit_malloc(sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->pending++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

int pit_work_pool_pending(pit_work_pool *p) {
    pthread_mutex_lock(&p->mu);
    int n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pit_work_pool_destroy(pit_work_pool *p) {
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}
