//! The JNI surface: the native methods of `dev.eddy.core.NativeOperator`, one `extern
//! "system"` function each, with the names and descriptors `javac -h` gives.
//!
//! Every entry runs its body in `EnvUnowned::with_env`, which catches panics, and resolves the
//! outcome with [`ThrowEddyException`]: an error or a panic becomes a
//! `dev.eddy.core.EddyException` carrying the message, unless a Java exception is already
//! pending (a failed JNI call), which then propagates as it is. Nothing unwinds into the JVM.

#![expect(unsafe_code, reason = "JNI finds the entry points by their unmangled names (#[unsafe(no_mangle)])")]

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use eddy_host::Record;
use jni::errors::ErrorPolicy;
use jni::objects::{JByteArray, JClass, JLongArray, JObject, JObjectArray, JString};
use jni::sys::{jint, jlong};
use jni::{Env, EnvUnowned, jni_str};
use serde_json::json;

use crate::error::{Error, Result, usage};
use crate::operator::Operator;
use crate::registry;
use crate::wire::WireRecord;

/// Throws `dev.eddy.core.EddyException` for errors and panics (never over a pending
/// exception) and returns the type's default (0, null) to the JVM, which ignores it.
#[derive(Debug)]
pub struct ThrowEddyException;

const EXCEPTION_CLASS: &jni::strings::JNIStr = jni_str!("dev/eddy/core/EddyException");

fn throw(env: &mut Env<'_>, message: &str) {
    if env.exception_check() {
        return; // the pending exception says more than we could
    }
    let msg = jni::strings::JNIString::from(message);
    if env.throw_new(EXCEPTION_CLASS, &msg).is_err() && !env.exception_check() {
        // EddyException not reachable from this class loader: still never return silently.
        let _ = env.throw_new(jni_str!("java/lang/RuntimeException"), &msg);
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl<T: Default> ErrorPolicy<T, Error> for ThrowEddyException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = &'static str;

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _method: &mut &'static str,
        err: Error,
    ) -> jni::errors::Result<T> {
        throw(env, &err.to_string());
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        method: &mut &'static str,
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let message = format!("eddy: the native library panicked in NativeOperator.{method}: {}", panic_message(&*payload));
        // Dropping a payload may itself panic: leak it rather than unwind.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(p);
        }
        throw(env, &message);
        Ok(T::default())
    }
}

fn string(env: &Env<'_>, s: &JString<'_>, what: &str) -> Result<String> {
    if s.is_null() {
        return Err(usage(format!("{what} is null")));
    }
    Ok(s.try_to_string(env)?)
}

fn longs(env: &Env<'_>, a: &JLongArray<'_>, what: &str) -> Result<Vec<i64>> {
    if a.is_null() {
        return Err(usage(format!("{what} is null")));
    }
    let mut v = vec![0; a.len(env)?];
    a.get_region(env, 0, &mut v)?;
    Ok(v)
}

fn to_java<'local>(env: &mut Env<'local>, records: &[WireRecord]) -> Result<JObjectArray<'local, JByteArray<'local>>> {
    let out = JObjectArray::<JByteArray>::new(env, records.len(), JByteArray::default())?;
    let mut buf = Vec::with_capacity(512);
    for (i, r) in records.iter().enumerate() {
        buf.clear();
        r.write_to(&mut buf);
        let b = env.byte_array_from_slice(&buf)?;
        out.set_element(env, i, &b)?;
        env.delete_local_ref(b);
    }
    Ok(out)
}

/// `static native long open(String componentPath, String configJson)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_open<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    component: JString<'local>,
    config: JString<'local>,
) -> jlong {
    env.with_env(|env| -> Result<jlong> {
        let spec = string(env, &component, "componentPath")?;
        let config = if config.is_null() { "{}".to_owned() } else { string(env, &config, "configJson")? };
        let op = Operator::open(registry::component(&spec)?, &config)?;
        Ok(registry::insert(op))
    })
    .resolve_with::<ThrowEddyException, _>(|| "open")
}

/// `static native long openSpec(String specJson)`: a chain with limits ([`crate::OpenSpec`]).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_openSpec<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    spec: JString<'local>,
) -> jlong {
    env.with_env(|env| -> Result<jlong> {
        let spec = string(env, &spec, "specJson")?;
        Ok(registry::insert(Operator::open_spec(&spec)?))
    })
    .resolve_with::<ThrowEddyException, _>(|| "openSpec")
}

/// `static native byte[][] process(long handle, byte[][] values, long[] timestamps, int
/// partition, long[] offsets)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_process<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    values: JObjectArray<'local, JByteArray<'local>>,
    timestamps: JLongArray<'local>,
    partition: jint,
    offsets: JLongArray<'local>,
) -> JObjectArray<'local, JByteArray<'local>> {
    env.with_env(|env| -> Result<_> {
        if values.is_null() {
            return Err(usage("values is null"));
        }
        let n = values.len(env)?;
        let timestamps = longs(env, &timestamps, "timestamps")?;
        let offsets = longs(env, &offsets, "offsets")?;
        if timestamps.len() != n || offsets.len() != n {
            return Err(usage(format!(
                "process needs one timestamp and one offset per value: {n} values, {} timestamps, {} offsets",
                timestamps.len(),
                offsets.len()
            )));
        }
        let mut records = Vec::with_capacity(n);
        for (i, (timestamp, offset)) in timestamps.into_iter().zip(offsets).enumerate() {
            let v = values.get_element(env, i)?;
            if v.is_null() {
                return Err(usage(format!("values[{i}] is null")));
            }
            let value = env.convert_byte_array(&v)?;
            env.delete_local_ref(v);
            records.push(Record { topic: String::new(), partition, offset, timestamp, key: None, value, headers: Vec::new() });
        }
        let out = registry::with(handle, |op| op.process(partition, &records))?;
        to_java(env, &out)
    })
    .resolve_with::<ThrowEddyException, _>(|| "process")
}

/// `static native byte[][] finish(long handle)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_finish<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObjectArray<'local, JByteArray<'local>> {
    env.with_env(|env| -> Result<_> {
        let out = registry::with(handle, Operator::finish)?;
        to_java(env, &out)
    })
    .resolve_with::<ThrowEddyException, _>(|| "finish")
}

/// `static native byte[] snapshot(long handle)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_snapshot<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JByteArray<'local> {
    env.with_env(|env| -> Result<_> {
        let bytes = registry::with(handle, Operator::snapshot)?;
        Ok(env.byte_array_from_slice(&bytes)?)
    })
    .resolve_with::<ThrowEddyException, _>(|| "snapshot")
}

/// `static native void restore(long handle, byte[] state)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_restore<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    state: JByteArray<'local>,
) {
    env.with_env(|env| -> Result<()> {
        if state.is_null() {
            return Err(usage("state is null"));
        }
        let bytes = env.convert_byte_array(&state)?;
        registry::with(handle, |op| op.restore(&bytes))
    })
    .resolve_with::<ThrowEddyException, _>(|| "restore")
}

/// `static native void close(long handle)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_close<'local>(mut env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    env.with_env(|_env| -> Result<()> { registry::remove(handle) }).resolve_with::<ThrowEddyException, _>(|| "close")
}

/// `static native String describe(String componentPath)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_eddy_core_NativeOperator_describe<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    component: JString<'local>,
) -> JObject<'local> {
    env.with_env(|env| -> Result<JObject<'local>> {
        let spec = string(env, &component, "componentPath")?;
        let text = describe(&spec)?;
        Ok(JString::from_str(env, text)?.into())
    })
    .resolve_with::<ThrowEddyException, _>(|| "describe")
}

/// The spec `describe` answers with a panic, so a test can show, end to end, that a panic in the
/// native library becomes an `EddyException` and the JVM carries on.
pub const SELF_TEST_PANIC: &str = "eddy:self-test-panic";

/// The component's description as JSON: name, version, kind, description, params (name, type,
/// default as JSON text, doc) and the sinks it writes.
pub fn describe(spec: &str) -> Result<String> {
    assert!(spec != SELF_TEST_PANIC, "self-test panic, on purpose");
    let c = registry::component(spec)?;
    let i = c.info();
    let params: Vec<_> =
        i.params.iter().map(|p| json!({"name": p.name, "type": p.type_name, "default": p.default_value, "doc": p.doc})).collect();
    Ok(json!({
        "name": i.name,
        "version": i.version,
        "kind": format!("{:?}", i.kind).to_lowercase(),
        "description": i.description,
        "params": params,
        "sinks": ["predictions", "models", "dead_letters"],
    })
    .to_string())
}
