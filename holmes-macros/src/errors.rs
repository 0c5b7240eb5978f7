//! Collecting independent compile errors so that one expansion reports all of them.

/// Accumulates `syn::Error`s with [`syn::Error::combine`]; every error keeps its own span.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records `error` next to the ones already collected.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the error of `result`, if any, and passes its value on.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// Whether no error was collected so far.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// `Err` with every collected error (including the one of `result`), or `result`.
    pub(crate) fn finish_with<T>(self, result: syn::Result<T>) -> syn::Result<T> {
        match (self.0, result) {
            (None, result) => result,
            (Some(all), Ok(_)) => Err(all),
            (Some(mut all), Err(error)) => {
                all.combine(error);
                Err(all)
            }
        }
    }

    /// `Err` with every collected error, or `Ok(value)` when there were none.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(all) => Err(all),
            None => Ok(value),
        }
    }
}
