pub(crate) mod dumps;
pub(crate) mod page;
