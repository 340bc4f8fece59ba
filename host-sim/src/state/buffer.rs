//! Byte-buffer access with Envoy's rules for `proxy_get_buffer_bytes` and
//! `proxy_set_buffer_bytes`.

use crate::types::Status;

/// Reads up to `max_size` bytes from `start`, clamped to the buffer;
/// `start + max_size` overflowing is `BadArgument`.
pub fn get_bytes(buffer: &[u8], start: u32, max_size: u32) -> Result<&[u8], Status> {
    let start = start as usize;
    let end = start.checked_add(max_size as usize).ok_or(Status::BadArgument)?;
    if (start as u64) + (max_size as u64) > u32::MAX as u64 {
        return Err(Status::BadArgument);
    }
    let start = start.min(buffer.len());
    let end = end.min(buffer.len());
    Ok(&buffer[start..end])
}

/// Modifies a mutable body/data buffer as Envoy's body buffer allows: prepend
/// (`start = 0, size = 0`), replace all (`start = 0, size >= len`) or append
/// (`start >= len`); anything else is `BadArgument`.
pub fn set_bytes(buffer: &mut Vec<u8>, start: u32, size: u32, value: &[u8]) -> Result<(), Status> {
    let (start, size, len) = (start as usize, size as usize, buffer.len());
    if start == 0 && size == 0 {
        buffer.splice(0..0, value.iter().copied());
    } else if start == 0 && size >= len {
        buffer.clear();
        buffer.extend_from_slice(value);
    } else if start >= len {
        buffer.extend_from_slice(value);
    } else {
        return Err(Status::BadArgument);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_clamps_and_rejects_overflow() {
        let b = b"hello";
        assert_eq!(get_bytes(b, 1, 3), Ok(&b"ell"[..]));
        assert_eq!(get_bytes(b, 3, 100), Ok(&b"lo"[..]));
        assert_eq!(get_bytes(b, 10, 1), Ok(&b""[..]));
        assert_eq!(get_bytes(b, 1, u32::MAX), Err(Status::BadArgument));
        assert_eq!(get_bytes(b, 0, u32::MAX), Ok(&b"hello"[..]));
    }

    #[test]
    fn set_supports_prepend_replace_append_only() {
        let mut b = b"mid".to_vec();
        set_bytes(&mut b, 0, 0, b"<").unwrap();
        assert_eq!(b, b"<mid");
        set_bytes(&mut b, u32::MAX, 0, b">").unwrap();
        assert_eq!(b, b"<mid>");
        set_bytes(&mut b, 0, 100, b"new").unwrap();
        assert_eq!(b, b"new");
        assert_eq!(set_bytes(&mut b, 1, 1, b"x"), Err(Status::BadArgument));
        assert_eq!(b, b"new");
    }
}
