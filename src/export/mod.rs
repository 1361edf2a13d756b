//! export stage (OWNER: lead).
