//! The media steps both SQL backends share; expanded by `sql_store!` into
//! each backend's module, next to the course steps whose helpers they use.

/// Asset columns, each prefixed with `prefix` (`"a."` or `""`), aliased to
/// `<alias>name` so a join can read them beside other tables' columns.
pub(crate) fn asset_columns(prefix: &str, alias: &str) -> String {
    ASSET_FIELDS
        .iter()
        .map(|c| format!("{prefix}{c} AS {alias}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const ASSET_FIELDS: [&str; 17] = [
    "id",
    "owner_id",
    "purpose",
    "course_id",
    "lecture_id",
    "object_key",
    "file_name",
    "content_type",
    "size",
    "status",
    "video_status",
    "mux_asset_id",
    "playback_id",
    "duration_secs",
    "created_at",
    "upload_expires_at",
    "stored_at",
];

macro_rules! media_sql {
    ($store:ty, $db:ty, $row:ty) => {
        use $crate::domain::AssetId;
        use $crate::media::{Asset, AssetStatus, UploadPurpose, VideoStatus, WebhookOutcome};
        use $crate::store::media::{
            MediaStore, NewAsset, PlaybackAccess, VideoChange, WebhookDelivery,
        };
        use $crate::store::sql::media::asset_columns;

        /// Records a webhook delivery by (provider, event id) in the caller's
        /// transaction; false when that event was recorded before, so the
        /// caller answers a duplicate and changes nothing. The insert takes
        /// the key's lock, so two deliveries of one event take turns.
        async fn record_delivery(
            tx: &mut WriteTx,
            delivery: &WebhookDelivery,
            at: Timestamp,
        ) -> Result<bool> {
            let recorded = sqlx::query(
                "INSERT INTO webhook_events (provider, event_id, event_type, received_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(delivery.provider)
            .bind(&delivery.event_id)
            .bind(&delivery.event_type)
            .bind(ts(at))
            .execute(&mut **tx)
            .await?
            .rows_affected();
            Ok(recorded == 1)
        }

        /// An asset from columns aliased `<alias>name` (see `asset_columns`).
        fn asset_from(row: &$row, alias: &str) -> Result<Asset> {
            let col = |name: &str| format!("{alias}{name}");
            let purpose: String = row.try_get(col("purpose").as_str())?;
            let status: String = row.try_get(col("status").as_str())?;
            let video: Option<String> = row.try_get(col("video_status").as_str())?;
            let stored = |what: &str, value: &str| {
                Error::internal(format!("unknown {what} {value:?} in assets"))
            };
            Ok(Asset {
                id: AssetId(row.try_get(col("id").as_str())?),
                owner_id: UserId(row.try_get(col("owner_id").as_str())?),
                purpose: UploadPurpose::parse("purpose", &purpose)
                    .map_err(|_| stored("purpose", &purpose))?,
                course_id: row
                    .try_get::<Option<Uuid>, _>(col("course_id").as_str())?
                    .map(CourseId),
                lecture_id: row
                    .try_get::<Option<Uuid>, _>(col("lecture_id").as_str())?
                    .map(LectureId),
                object_key: row.try_get(col("object_key").as_str())?,
                file_name: row.try_get(col("file_name").as_str())?,
                content_type: row.try_get(col("content_type").as_str())?,
                size: row.try_get(col("size").as_str())?,
                status: match status.as_str() {
                    "pending" => AssetStatus::Pending,
                    "stored" => AssetStatus::Stored,
                    other => return Err(stored("status", other)),
                },
                video_status: video
                    .map(|v| VideoStatus::parse(&v).ok_or_else(|| stored("video_status", &v)))
                    .transpose()?,
                mux_asset_id: row.try_get(col("mux_asset_id").as_str())?,
                playback_id: row.try_get(col("playback_id").as_str())?,
                duration_secs: row.try_get(col("duration_secs").as_str())?,
                public_url: None,
                created_at: row.try_get(col("created_at").as_str())?,
                upload_expires_at: row.try_get(col("upload_expires_at").as_str())?,
                stored_at: row.try_get(col("stored_at").as_str())?,
            })
        }

        /// The event of an asset change: about its course when it has one,
        /// else about its owner.
        fn asset_event(
            kind: &'static str,
            asset: &Asset,
            actor: Actor,
            payload: serde_json::Value,
        ) -> NewEvent {
            let (actor_kind, actor_id) = actor.log_parts();
            NewEvent {
                kind,
                subject_type: "asset",
                subject_id: asset.id.0,
                user_id: Some(asset.owner_id.0),
                course_id: asset.course_id.map(|c| c.0),
                actor_kind,
                actor_id,
                payload,
            }
        }

        async fn locked_asset(
            tx: &mut WriteTx,
            id: AssetId,
        ) -> Result<Option<Asset>> {
            let sql = format!(
                "SELECT {} FROM assets WHERE id = $1 {FOR_UPDATE}",
                asset_columns("", "")
            );
            let row = sqlx::query(&sql).bind(id.0).fetch_optional(&mut **tx).await?;
            row.as_ref().map(|r| asset_from(r, "")).transpose()
        }

        #[async_trait]
        impl MediaStore for $store {
            async fn create_asset(
                &self,
                new: NewAsset,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Asset> {
                let mut tx = self.write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO assets (id, owner_id, purpose, course_id, lecture_id, \
                     object_key, file_name, content_type, size, status, created_at, \
                     updated_at, upload_expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10, $11)",
                )
                .bind(new.id.0)
                .bind(new.owner_id.0)
                .bind(new.purpose.as_str())
                .bind(new.course_id.map(|c| c.0))
                .bind(new.lecture_id.map(|l| l.0))
                .bind(&new.object_key)
                .bind(&new.file_name)
                .bind(&new.content_type)
                .bind(new.size)
                .bind(ts(at))
                .bind(ts(new.upload_expires_at))
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    // The course or lecture went away since it was checked.
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("the upload's target no longer exists"));
                    }
                    Err(e) => return Err(e.into()),
                }
                let asset = locked_asset(&mut tx, new.id)
                    .await?
                    .ok_or_else(|| Error::internal("inserted asset not found"))?;
                let payload = json!({
                    "purpose": asset.purpose.as_str(),
                    "lecture_id": asset.lecture_id,
                    "content_type": asset.content_type,
                    "size": asset.size,
                });
                append(
                    &mut tx,
                    asset_event(kinds::ASSET_UPLOAD_STARTED, &asset, actor, payload),
                    at,
                )
                .await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(asset)
            }

            async fn asset(&self, id: AssetId) -> Result<Option<Asset>> {
                let sql = format!("SELECT {} FROM assets WHERE id = $1", asset_columns("", ""));
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(|r| asset_from(r, "")).transpose()
            }

            async fn asset_by_key(&self, key: &str) -> Result<Option<Asset>> {
                let sql = format!(
                    "SELECT {} FROM assets WHERE object_key = $1",
                    asset_columns("", "")
                );
                let row = sqlx::query(&sql).bind(key).fetch_optional(&self.pool).await?;
                row.as_ref().map(|r| asset_from(r, "")).transpose()
            }

            async fn store_asset(&self, id: AssetId, actor: Actor, at: Timestamp) -> Result<Asset> {
                let mut tx = self.write().await?;
                let asset = locked_asset(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::not_found("upload not found"))?;
                if asset.status == AssetStatus::Stored {
                    return Ok(asset);
                }
                let attached = match asset.purpose {
                    UploadPurpose::Avatar => {
                        sqlx::query(
                            "UPDATE users SET avatar_key = $1, updated_at = $2 \
                             WHERE id = $3 AND deleted_at IS NULL",
                        )
                        .bind(&asset.object_key)
                        .bind(ts(at))
                        .bind(asset.owner_id.0)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                    }
                    UploadPurpose::CourseThumbnail => {
                        sqlx::query(
                            "UPDATE courses SET thumbnail_key = $1, updated_at = $2 WHERE id = $3",
                        )
                        .bind(&asset.object_key)
                        .bind(ts(at))
                        .bind(asset.course_id.map(|c| c.0))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                    }
                    UploadPurpose::LectureVideo => {
                        sqlx::query(
                            "UPDATE lectures SET video_asset_id = $1, updated_at = $2 WHERE id = $3",
                        )
                        .bind(asset.id.0)
                        .bind(ts(at))
                        .bind(asset.lecture_id.map(|l| l.0))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                    }
                    UploadPurpose::LectureAttachment => 1,
                };
                if attached == 0 {
                    return Err(Error::not_found("the upload's target no longer exists"));
                }
                sqlx::query(
                    "UPDATE assets SET status = 'stored', stored_at = $2, updated_at = $2 \
                     WHERE id = $1",
                )
                .bind(asset.id.0)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                let asset = locked_asset(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::internal("stored asset not found"))?;
                let payload = json!({
                    "purpose": asset.purpose.as_str(),
                    "lecture_id": asset.lecture_id,
                    "object_key": asset.object_key,
                });
                append(
                    &mut tx,
                    asset_event(kinds::ASSET_STORED, &asset, actor, payload),
                    at,
                )
                .await?;
                self.commit(tx).await?;
                Ok(asset)
            }

            async fn set_video_asset(
                &self,
                id: AssetId,
                provider_asset_id: &str,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Asset> {
                let mut tx = self.write().await?;
                let asset = locked_asset(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::not_found("upload not found"))?;
                // A webhook may have told us first (its events can arrive
                // before the API call that created the asset returns).
                if asset.mux_asset_id.is_some() {
                    return Ok(asset);
                }
                sqlx::query(
                    "UPDATE assets SET mux_asset_id = $2, \
                     video_status = COALESCE(video_status, 'processing'), updated_at = $3 \
                     WHERE id = $1",
                )
                .bind(id.0)
                .bind(provider_asset_id)
                .bind(ts(at))
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as(e, "that video asset belongs to another upload"))?;
                let asset = locked_asset(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::internal("asset not found"))?;
                append(
                    &mut tx,
                    asset_event(
                        kinds::ASSET_VIDEO_PROCESSING,
                        &asset,
                        actor,
                        json!({ "mux_asset_id": provider_asset_id }),
                    ),
                    at,
                )
                .await?;
                self.commit(tx).await?;
                Ok(asset)
            }

            async fn apply_video_event(
                &self,
                delivery: WebhookDelivery,
                change: Option<VideoChange>,
                at: Timestamp,
            ) -> Result<WebhookOutcome> {
                let mut tx = self.write().await?;
                if !record_delivery(&mut tx, &delivery, at).await? {
                    return Ok(WebhookOutcome::Duplicate);
                }
                let Some(change) = change else {
                    self.commit(tx).await?;
                    return Ok(WebhookOutcome::Ignored);
                };
                let sql = format!(
                    "SELECT {} FROM assets WHERE purpose = 'lecture_video' \
                     AND (id = $1 OR mux_asset_id = $2) ORDER BY id LIMIT 1 {FOR_UPDATE}",
                    asset_columns("", "")
                );
                let row = sqlx::query(&sql)
                    .bind(change.asset_id.map(|a| a.0))
                    .bind(&change.provider_asset_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let asset = match row.as_ref().map(|r| asset_from(r, "")).transpose()? {
                    Some(asset) => asset,
                    None => {
                        self.commit(tx).await?;
                        return Ok(WebhookOutcome::Ignored);
                    }
                };
                let other_asset = asset
                    .mux_asset_id
                    .as_deref()
                    .is_some_and(|known| known != change.provider_asset_id);
                let backwards = asset
                    .video_status
                    .is_some_and(|now| now.rank() >= change.status.rank());
                if other_asset || backwards {
                    self.commit(tx).await?;
                    return Ok(WebhookOutcome::Ignored);
                }
                sqlx::query(
                    "UPDATE assets SET video_status = $2, mux_asset_id = $3, \
                     playback_id = COALESCE($4, playback_id), \
                     duration_secs = COALESCE($5, duration_secs), updated_at = $6 \
                     WHERE id = $1",
                )
                .bind(asset.id.0)
                .bind(change.status.as_str())
                .bind(&change.provider_asset_id)
                .bind(&change.playback_id)
                .bind(change.duration_secs)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                if let (VideoStatus::Ready, Some(secs)) = (change.status, change.duration_secs) {
                    sqlx::query(
                        "UPDATE lectures SET duration_secs = $1, updated_at = $2 \
                         WHERE video_asset_id = $3",
                    )
                    .bind(secs)
                    .bind(ts(at))
                    .bind(asset.id.0)
                    .execute(&mut *tx)
                    .await?;
                }
                let kind = match change.status {
                    VideoStatus::Processing => kinds::ASSET_VIDEO_PROCESSING,
                    VideoStatus::Ready => kinds::ASSET_VIDEO_READY,
                    VideoStatus::Errored => kinds::ASSET_VIDEO_ERRORED,
                    VideoStatus::Deleted => kinds::ASSET_VIDEO_DELETED,
                };
                let payload = json!({
                    "provider": delivery.provider,
                    "event_id": delivery.event_id,
                    "mux_asset_id": change.provider_asset_id,
                    "duration_secs": change.duration_secs,
                });
                append(&mut tx, asset_event(kind, &asset, Actor::System, payload), at).await?;
                self.commit(tx).await?;
                Ok(WebhookOutcome::Applied)
            }

            async fn playback_access(
                &self,
                lecture: LectureId,
                user: Option<UserId>,
                at: Timestamp,
            ) -> Result<Option<PlaybackAccess>> {
                let sql = format!(
                    "SELECT l.course_id, c.owner_id, c.status AS course_status, l.free_preview, \
                     l.kind, EXISTS (SELECT 1 FROM enrollments e WHERE e.course_id = l.course_id \
                     AND e.user_id = $2 AND e.status = 'active' \
                     AND (e.expires_at IS NULL OR e.expires_at > $3)) AS enrolled, {} \
                     FROM lectures l JOIN courses c ON c.id = l.course_id \
                     LEFT JOIN assets a ON a.id = l.video_asset_id WHERE l.id = $1",
                    asset_columns("a.", "a_")
                );
                let Some(row) = sqlx::query(&sql)
                    .bind(lecture.0)
                    .bind(user.map(|u| u.0))
                    .bind(ts(at))
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let status: String = row.try_get("course_status")?;
                let kind: String = row.try_get("kind")?;
                let has_video = row.try_get::<Option<Uuid>, _>("a_id")?.is_some();
                Ok(Some(PlaybackAccess {
                    course_id: CourseId(row.try_get("course_id")?),
                    owner_id: UserId(row.try_get("owner_id")?),
                    course_status: CourseStatus::parse("status", &status)
                        .map_err(|_| Error::internal(format!("unknown course status {status:?}")))?,
                    free_preview: row.try_get("free_preview")?,
                    kind: kind_from(&kind)?,
                    enrolled: row.try_get("enrolled")?,
                    video: if has_video { Some(asset_from(&row, "a_")?) } else { None },
                }))
            }

            async fn lecture_attachments(&self, lecture: LectureId) -> Result<Vec<Asset>> {
                let sql = format!(
                    "SELECT {} FROM assets WHERE lecture_id = $1 \
                     AND purpose = 'lecture_attachment' AND status = 'stored' ORDER BY id",
                    asset_columns("", "")
                );
                let rows = sqlx::query(&sql).bind(lecture.0).fetch_all(&self.pool).await?;
                rows.iter().map(|r| asset_from(r, "")).collect()
            }
        }
    };
}

pub(crate) use media_sql;
