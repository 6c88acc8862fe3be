//! Loader of the OpenAPI v3 per-group documents (`openapiv3` crate) into the same IR.
//! PLACEHOLDER: being written.
use std::path::Path;

use crate::error::Result;
use crate::ir::ApiModel;

/// Loads every `*.json` document of a `v3/` directory.
pub fn load_dir(_dir: &Path, version: &str) -> Result<ApiModel> {
    Ok(ApiModel {
        version: version.to_owned(),
        ..ApiModel::default()
    })
}

/// Merges what v3 has and v2 lacks (field defaults) into a v2 model.
pub fn merge_into(_v2: &mut ApiModel, _v3: &ApiModel) {}
