/*
 * A stand-in for eddy's native library, in C, used only by NativeStubTest: it proves the JNI
 * surface of dev.eddy.flink.NativeOperator (names, descriptors, exceptions, byte[][] in and out)
 * before the Rust library exists. The test compiles it against the header `javac -h` generates
 * from NativeOperator.java, so a changed Java signature breaks this build.
 *
 * The "operator" echoes each row: value {"echo":"<row>","rows":N} where N counts the rows seen
 * by the instance (its whole state, 8 bytes). Rows must be digit strings; anything else throws
 * dev.eddy.flink.EddyException, as the real library does for its errors.
 */
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t rows;
} instance;

static void throw_eddy(JNIEnv *env, const char *msg) {
    if ((*env)->ExceptionCheck(env)) {
        return; /* never throw over a pending exception */
    }
    jclass c = (*env)->FindClass(env, "dev/eddy/core/EddyException");
    if (c != NULL) {
        (*env)->ThrowNew(env, c, msg);
    }
}

JNIEXPORT jlong JNICALL Java_dev_eddy_core_NativeOperator_open(
        JNIEnv *env, jclass cls, jstring component_path, jstring config_json) {
    (void) cls;
    (void) config_json;
    if (component_path == NULL) {
        throw_eddy(env, "stub: no component path");
        return 0;
    }
    instance *inst = calloc(1, sizeof(instance));
    return (jlong) (intptr_t) inst;
}

/* a spec (chain, limits) opens like one operator here */
JNIEXPORT jlong JNICALL Java_dev_eddy_core_NativeOperator_openSpec(
        JNIEnv *env, jclass cls, jstring spec_json) {
    (void) cls;
    if (spec_json == NULL) {
        throw_eddy(env, "stub: no spec");
        return 0;
    }
    instance *inst = calloc(1, sizeof(instance));
    return (jlong) (intptr_t) inst;
}

JNIEXPORT jobjectArray JNICALL Java_dev_eddy_core_NativeOperator_process(
        JNIEnv *env, jclass cls, jlong handle, jobjectArray values, jlongArray timestamps,
        jint partition, jlongArray offsets) {
    (void) cls;
    instance *inst = (instance *) (intptr_t) handle;
    if (inst == NULL) {
        throw_eddy(env, "stub: bad handle");
        return NULL;
    }
    jsize n = (*env)->GetArrayLength(env, values);
    if ((*env)->GetArrayLength(env, timestamps) != n || (*env)->GetArrayLength(env, offsets) != n) {
        throw_eddy(env, "stub: arrays of different lengths");
        return NULL;
    }
    jlong *offs = (*env)->GetLongArrayElements(env, offsets, NULL);
    jclass byte_array = (*env)->FindClass(env, "[B");
    jobjectArray out = (*env)->NewObjectArray(env, n, byte_array, NULL);
    for (jsize i = 0; out != NULL && i < n; i++) {
        jbyteArray v = (jbyteArray) (*env)->GetObjectArrayElement(env, values, i);
        jsize len = (*env)->GetArrayLength(env, v);
        char row[64];
        if (len <= 0 || len >= (jsize) sizeof(row)) {
            throw_eddy(env, "stub: row too long or empty");
            out = NULL;
            break;
        }
        (*env)->GetByteArrayRegion(env, v, 0, len, (jbyte *) row);
        row[len] = 0;
        for (jsize k = 0; k < len; k++) {
            if (row[k] < '0' || row[k] > '9') {
                throw_eddy(env, "stub: not a digit string");
                out = NULL;
                break;
            }
        }
        if (out == NULL) {
            break;
        }
        inst->rows++;
        char rec[256];
        int m = snprintf(rec, sizeof(rec),
                "{\"sink\":\"predictions\",\"partition\":%d,\"offset\":%lld,"
                "\"value\":\"{\\\"echo\\\":\\\"%s\\\",\\\"rows\\\":%lld}\"}",
                (int) partition, (long long) offs[i], row, (long long) inst->rows);
        jbyteArray o = (*env)->NewByteArray(env, m);
        (*env)->SetByteArrayRegion(env, o, 0, m, (const jbyte *) rec);
        (*env)->SetObjectArrayElement(env, out, i, o);
        (*env)->DeleteLocalRef(env, o);
        (*env)->DeleteLocalRef(env, v);
    }
    (*env)->ReleaseLongArrayElements(env, offsets, offs, JNI_ABORT);
    return out;
}

JNIEXPORT jobjectArray JNICALL Java_dev_eddy_core_NativeOperator_finish(
        JNIEnv *env, jclass cls, jlong handle) {
    (void) cls;
    if ((instance *) (intptr_t) handle == NULL) {
        throw_eddy(env, "stub: bad handle");
        return NULL;
    }
    /* the echo operator holds nothing back */
    return (*env)->NewObjectArray(env, 0, (*env)->FindClass(env, "[B"), NULL);
}

JNIEXPORT jbyteArray JNICALL Java_dev_eddy_core_NativeOperator_snapshot(
        JNIEnv *env, jclass cls, jlong handle) {
    (void) cls;
    instance *inst = (instance *) (intptr_t) handle;
    if (inst == NULL) {
        throw_eddy(env, "stub: bad handle");
        return NULL;
    }
    jbyteArray out = (*env)->NewByteArray(env, 8);
    (*env)->SetByteArrayRegion(env, out, 0, 8, (const jbyte *) &inst->rows);
    return out;
}

JNIEXPORT void JNICALL Java_dev_eddy_core_NativeOperator_restore(
        JNIEnv *env, jclass cls, jlong handle, jbyteArray state) {
    (void) cls;
    instance *inst = (instance *) (intptr_t) handle;
    if (inst == NULL || state == NULL || (*env)->GetArrayLength(env, state) != 8) {
        throw_eddy(env, "stub: bad handle or state");
        return;
    }
    (*env)->GetByteArrayRegion(env, state, 0, 8, (jbyte *) &inst->rows);
}

JNIEXPORT void JNICALL Java_dev_eddy_core_NativeOperator_close(
        JNIEnv *env, jclass cls, jlong handle) {
    (void) env;
    (void) cls;
    free((instance *) (intptr_t) handle);
}

JNIEXPORT jstring JNICALL Java_dev_eddy_core_NativeOperator_describe(
        JNIEnv *env, jclass cls, jstring component_path) {
    (void) cls;
    (void) component_path;
    return (*env)->NewStringUTF(env, "{\"name\":\"jni-stub\",\"sinks\":[\"predictions\"]}");
}
