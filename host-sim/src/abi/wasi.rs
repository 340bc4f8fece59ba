//! The whole `wasi_snapshot_preview1` surface (also linked as
//! `wasi_unstable`, as cpp-host does). The functions the Proxy-Wasm spec
//! names have real semantics: `fd_write` goes to the plugin log, clocks read
//! the virtual clock, `random_get` is seeded, `environ_*` serve the VM's own
//! environment, `args_*` are empty and `proc_exit` returns after logging
//! (as cpp-host's does; the trap that follows it names the exit code). Every other
//! function answers with the errno cpp-host gives, so Go, C++ and
//! AssemblyScript guests link. With a capability list, any WASI function it
//! leaves out answers `ENOTCAPABLE` (76) instead, and `proc_exit` returns.
//! Also `env.pthread_equal` and `env.emscripten_notify_memory_growth`, which
//! cpp-host provides.

use wasmtime::{Caller, Linker};

use super::memory;
use crate::state::logs::trim_newline;
use crate::store::VmState;
use crate::types::{LogLevel, Status};

/// Both module names WASI preview 1 is imported under.
pub const MODULES: [&str; 2] = ["wasi_snapshot_preview1", "wasi_unstable"];

const SUCCESS: i32 = 0;
const BADF: i32 = 8;
const FAULT: i32 = 21;
const INVAL: i32 = 28;
const NOENT: i32 = 44;
const NOSYS: i32 = 52;
const NOTDIR: i32 = 54;
const NOTSUP: i32 = 58;

/// The largest `random_get` cpp-host serves.
const MAX_RANDOM: u32 = 64 * 1024;

type Wasi = Result<i32, wasmtime::Error>;

fn fault(_: Status) -> i32 {
    FAULT
}

/// A WASI function the plugin's capability list leaves out does not run: as
/// cpp-host's restricted-WASI stubs, it logs "Attempted call to restricted
/// WASI capability: `<name>`" (error level) and returns `ENOTCAPABLE`.
fn restricted(caller: &mut Caller<'_, VmState>, name: &'static str) -> bool {
    if !crate::abi::gate::wasi_restricted(caller.data(), name) {
        return false;
    }
    crate::abi::log_error(caller.data_mut(), format!("Attempted call to restricted WASI capability: {name}"));
    true
}

macro_rules! wasi {
    ($linker:expr, $name:literal, $func:path, ($($arg:ident : $ty:ty),*)) => {
        for module in MODULES {
            $linker.func_wrap(module, $name, |mut caller: Caller<'_, VmState>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                if let Some(refused) = $crate::abi::gate::start_refusal(caller.data(), $name, true) {
                    return Err(refused);
                }
                let errno = if restricted(&mut caller, $name) {
                    $crate::abi::gate::ENOTCAPABLE
                } else {
                    $func(&mut caller, $($arg),*)?
                };
                caller.data_mut().record($name, errno);
                Ok(errno)
            })?;
        }
    };
}

macro_rules! stub {
    ($linker:expr, $name:literal, $errno:expr, ($($ty:ty),*)) => {
        for module in MODULES {
            $linker.func_wrap(module, $name, |mut caller: Caller<'_, VmState>, $(_: $ty),*| -> wasmtime::Result<i32> {
                if let Some(refused) = $crate::abi::gate::start_refusal(caller.data(), $name, true) {
                    return Err(refused);
                }
                let errno = if restricted(&mut caller, $name) { $crate::abi::gate::ENOTCAPABLE } else { $errno };
                caller.data_mut().record($name, errno);
                Ok(errno)
            })?;
        }
    };
}

/// `fd_*` stubs cpp-host answers OK for stdout/stderr and BADF otherwise.
macro_rules! std_fd_ok {
    ($linker:expr, $name:literal, ($($ty:ty),*)) => {
        for module in MODULES {
            $linker.func_wrap(module, $name, |mut caller: Caller<'_, VmState>, fd: i32, $(_: $ty),*| -> i32 {
                let errno = if restricted(&mut caller, $name) {
                    $crate::abi::gate::ENOTCAPABLE
                } else if fd == 1 || fd == 2 {
                    SUCCESS
                } else {
                    BADF
                };
                caller.data_mut().record($name, errno);
                errno
            })?;
        }
    };
}

pub(crate) fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    wasi!(linker, "fd_write", fd_write, (fd: i32, iovs: u32, iovs_len: u32, written_ptr: u32));
    wasi!(linker, "fd_pwrite", fd_pwrite, (fd: i32, iovs: u32, iovs_len: u32, _offset: i64, written_ptr: u32));
    wasi!(linker, "clock_time_get", clock_time_get, (id: i32, _precision: i64, time_ptr: u32));
    wasi!(linker, "clock_res_get", clock_res_get, (id: i32, res_ptr: u32));
    wasi!(linker, "random_get", random_get, (buf: u32, len: u32));
    wasi!(linker, "environ_sizes_get", environ_sizes_get, (count_ptr: u32, size_ptr: u32));
    wasi!(linker, "environ_get", environ_get, (environ: u32, buf: u32));
    wasi!(linker, "args_sizes_get", args_sizes_get, (argc_ptr: u32, size_ptr: u32));
    wasi!(linker, "fd_fdstat_get", fd_fdstat_get, (fd: i32, stat_ptr: u32));
    wasi!(linker, "poll_oneoff", poll_oneoff, (_in: u32, _out: u32, _n: u32, nevents_ptr: u32));
    for module in MODULES {
        linker.func_wrap(
            module,
            "proc_exit",
            |mut caller: Caller<'_, VmState>, code: i32| -> wasmtime::Result<()> {
                if let Some(refused) = crate::abi::gate::start_refusal(caller.data(), "proc_exit", true) {
                    return Err(refused);
                }
                caller.data_mut().record("proc_exit", code);
                // Restricted, cpp-host's stub logs and returns: the guest goes on.
                if restricted(&mut caller, "proc_exit") {
                    return Ok(());
                }
                // cpp-host's proc_exit logs (Envoy: at trace) and returns:
                // the guest's own code traps right after it (every toolchain
                // puts `unreachable` there), and that trap names the exit.
                let state = caller.data_mut();
                state.exit_code = Some(code);
                let context_id = state.effective;
                state.log_line(LogLevel::Trace, context_id, "wasi_unstable proc_exit".into());
                Ok(())
            },
        )?;
    }
    stub!(linker, "args_get", SUCCESS, (i32, i32));
    stub!(linker, "sched_yield", SUCCESS, ());
    stub!(linker, "fd_seek", SUCCESS, (i32, i64, i32, i32));
    stub!(linker, "fd_close", SUCCESS, (i32));
    stub!(linker, "fd_tell", SUCCESS, (i32, i32));
    std_fd_ok!(linker, "fd_advise", (i64, i64, i32));
    std_fd_ok!(linker, "fd_allocate", (i64, i64));
    std_fd_ok!(linker, "fd_datasync", ());
    std_fd_ok!(linker, "fd_sync", ());
    std_fd_ok!(linker, "fd_fdstat_set_rights", (i64, i64));
    std_fd_ok!(linker, "fd_filestat_set_size", (i64));
    std_fd_ok!(linker, "fd_filestat_set_times", (i64, i64, i32));
    stub!(linker, "fd_read", NOSYS, (i32, i32, i32, i32));
    stub!(linker, "fd_pread", NOSYS, (i32, i32, i32, i64, i32));
    stub!(linker, "fd_prestat_dir_name", NOSYS, (i32, i32, i32));
    stub!(linker, "fd_fdstat_set_flags", NOSYS, (i32, i32));
    stub!(linker, "fd_renumber", NOSYS, (i32, i32));
    stub!(linker, "proc_raise", NOSYS, (i32));
    stub!(linker, "fd_prestat_get", BADF, (i32, i32));
    stub!(linker, "fd_filestat_get", BADF, (i32, i32));
    stub!(linker, "fd_readdir", NOTDIR, (i32, i32, i32, i64, i32));
    stub!(linker, "path_open", NOENT, (i32, i32, i32, i32, i32, i64, i64, i32, i32));
    stub!(linker, "path_create_directory", NOTSUP, (i32, i32, i32));
    stub!(linker, "path_filestat_get", NOTSUP, (i32, i32, i32, i32, i32));
    stub!(linker, "path_filestat_set_times", NOTSUP, (i32, i32, i32, i32, i64, i64, i32));
    stub!(linker, "path_link", NOTSUP, (i32, i32, i32, i32, i32, i32, i32));
    stub!(linker, "path_readlink", NOTSUP, (i32, i32, i32, i32, i32, i32));
    stub!(linker, "path_remove_directory", NOTSUP, (i32, i32, i32));
    stub!(linker, "path_rename", NOTSUP, (i32, i32, i32, i32, i32, i32));
    stub!(linker, "path_symlink", NOTSUP, (i32, i32, i32, i32, i32));
    stub!(linker, "path_unlink_file", NOTSUP, (i32, i32, i32));
    stub!(linker, "sock_accept", NOTSUP, (i32, i32, i32));
    stub!(linker, "sock_recv", NOTSUP, (i32, i32, i32, i32, i32, i32));
    stub!(linker, "sock_send", NOTSUP, (i32, i32, i32, i32, i32));
    stub!(linker, "sock_shutdown", NOTSUP, (i32, i32));
    linker.func_wrap("env", "pthread_equal", |mut caller: Caller<'_, VmState>, a: i32, b: i32| -> i32 {
        caller.data_mut().record("pthread_equal", (a == b) as i32);
        (a == b) as i32
    })?;
    linker.func_wrap("env", "emscripten_notify_memory_growth", |mut caller: Caller<'_, VmState>, _: i32| {
        caller.data_mut().record("emscripten_notify_memory_growth", 0);
    })?;
    Ok(())
}

fn fd_write(caller: &mut Caller<'_, VmState>, fd: i32, iovs: u32, iovs_len: u32, written_ptr: u32) -> Wasi {
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return Ok(BADF),
    };
    let gathered = memory::with_memory(caller, |data, state| {
        let table = memory::slice(data, iovs, iovs_len.checked_mul(8).ok_or(Status::InvalidMemoryAccess)?)?;
        Ok(gather(data, table, &state.caps))
    });
    let bytes = match gathered {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(GatherError::Fault)) | Err(_) => return Ok(FAULT),
        Ok(Err(GatherError::Limit(exceeded))) => return Err(wasmtime::Error::new(exceeded)),
    };
    if memory::write_u32(caller, written_ptr, bytes.len() as u32).is_err() {
        return Ok(FAULT);
    }
    let state = caller.data_mut();
    let context_id = state.effective;
    state.note_start_output(&bytes);
    state.log_line(level, context_id, trim_newline(&bytes));
    Ok(SUCCESS)
}

enum GatherError {
    Fault,
    Limit(crate::limits::LimitExceeded),
}

/// Gathers `fd_write`'s iovecs into one line, after checking, without
/// copying, that every iovec is in memory and that the total (overlapping
/// iovecs counted each time) fits the host-call and log-line limits.
fn gather(data: &[u8], table: &[u8], caps: &crate::limits::Limits) -> Result<Vec<u8>, GatherError> {
    use crate::limits::Limit;
    let iovecs = || {
        table.chunks_exact(8).map(|iov| {
            let word = |at: usize| u32::from_le_bytes([iov[at], iov[at + 1], iov[at + 2], iov[at + 3]]);
            (word(0), word(4))
        })
    };
    let mut total = 0usize;
    for (ptr, len) in iovecs() {
        memory::slice(data, ptr, len).map_err(|_| GatherError::Fault)?;
        total = total.saturating_add(len as usize);
        caps.check(Limit::LogLineBytes, total, || format!("fd_write of at least {total} bytes"))
            .map_err(GatherError::Limit)?;
        let read = total.saturating_add(table.len());
        caps.check(Limit::HostCallBytes, read, || {
            format!("fd_write read at least {read} bytes with {} iovecs", table.len() / 8)
        })
        .map_err(GatherError::Limit)?;
    }
    let mut bytes = Vec::with_capacity(total);
    for (ptr, len) in iovecs() {
        bytes.extend_from_slice(memory::slice(data, ptr, len).map_err(|_| GatherError::Fault)?);
    }
    Ok(bytes)
}

fn fd_pwrite(
    caller: &mut Caller<'_, VmState>,
    fd: i32,
    iovs: u32,
    iovs_len: u32,
    _offset: i64,
    written_ptr: u32,
) -> Wasi {
    fd_write(caller, fd, iovs, iovs_len, written_ptr)
}

fn clock_time_get(caller: &mut Caller<'_, VmState>, id: i32, _precision: i64, time_ptr: u32) -> Wasi {
    let now = {
        let world = caller.data().world();
        match id {
            0 => world.clock.realtime_ns(),
            1 => world.clock.monotonic_ns(),
            _ => return Ok(NOTSUP),
        }
    };
    Ok(memory::write_u64(caller, time_ptr, now).map_or_else(fault, |_| SUCCESS))
}

fn clock_res_get(caller: &mut Caller<'_, VmState>, id: i32, res_ptr: u32) -> Wasi {
    if !(0..=1).contains(&id) {
        return Ok(NOTSUP);
    }
    Ok(memory::write_u64(caller, res_ptr, 1).map_or_else(fault, |_| SUCCESS))
}

fn random_get(caller: &mut Caller<'_, VmState>, buf: u32, len: u32) -> Wasi {
    if len > MAX_RANDOM {
        return Ok(INVAL);
    }
    if memory::check(caller, buf, len).is_err() {
        return Ok(FAULT);
    }
    let state = caller.data_mut();
    let mut bytes = Vec::with_capacity(len as usize + 8);
    while bytes.len() < len as usize {
        bytes.extend_from_slice(&state.next_random().to_le_bytes());
    }
    bytes.truncate(len as usize);
    Ok(memory::write(caller, buf, &bytes).map_or_else(fault, |_| SUCCESS))
}

fn environ_strings(state: &VmState) -> Vec<Vec<u8>> {
    state.environment.iter().map(|(k, v)| format!("{k}={v}\0").into_bytes()).collect()
}

fn environ_sizes_get(caller: &mut Caller<'_, VmState>, count_ptr: u32, size_ptr: u32) -> Wasi {
    let strings = environ_strings(caller.data());
    let size: usize = strings.iter().map(Vec::len).sum();
    let written = memory::check(caller, size_ptr, 4)
        .and_then(|_| memory::write_u32(caller, count_ptr, strings.len() as u32))
        .and_then(|_| memory::write_u32(caller, size_ptr, size as u32));
    Ok(written.map_or_else(fault, |_| SUCCESS))
}

fn environ_get(caller: &mut Caller<'_, VmState>, environ: u32, buf: u32) -> Wasi {
    let strings = environ_strings(caller.data());
    let mut offset = buf;
    for (i, s) in strings.iter().enumerate() {
        let pointer = environ.checked_add(4 * i as u32);
        let ok = pointer
            .ok_or(Status::InvalidMemoryAccess)
            .and_then(|p| memory::write_u32(caller, p, offset))
            .and_then(|_| memory::write(caller, offset, s));
        if ok.is_err() {
            return Ok(FAULT);
        }
        offset = offset.wrapping_add(s.len() as u32);
    }
    Ok(SUCCESS)
}

fn args_sizes_get(caller: &mut Caller<'_, VmState>, argc_ptr: u32, size_ptr: u32) -> Wasi {
    let written = memory::write_u32(caller, argc_ptr, 0).and_then(|_| memory::write_u32(caller, size_ptr, 0));
    Ok(written.map_or_else(fault, |_| SUCCESS))
}

fn fd_fdstat_get(caller: &mut Caller<'_, VmState>, fd: i32, stat_ptr: u32) -> Wasi {
    if fd != 1 && fd != 2 {
        return Ok(BADF);
    }
    // As cpp-host fills it: filetype 0 (unknown), no flags, rights base
    // fd_write (1 << 6), nothing inherited.
    let mut stat = [0u8; 24];
    stat[8..16].copy_from_slice(&(1u64 << 6).to_le_bytes());
    Ok(memory::write(caller, stat_ptr, &stat).map_or_else(fault, |_| SUCCESS))
}

fn poll_oneoff(caller: &mut Caller<'_, VmState>, _in: u32, _out: u32, _n: u32, nevents_ptr: u32) -> Wasi {
    Ok(memory::write_u32(caller, nevents_ptr, 0).map_or_else(fault, |_| SUCCESS))
}
