//! plan stage (OWNER: lead).
