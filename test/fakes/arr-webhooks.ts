// The bodies Sonarr and Lidarr POST to a Webhook connection, field by field as
// their serializer writes them (Sonarr @49df353, src/NzbDrone.Core/Notifications/
// Webhook/: WebhookBase.BuildOnDownloadPayload / BuildTestPayload,
// WebhookImportPayload, WebhookSeries, WebhookEpisode, WebhookEpisodeFile,
// WebhookGrabbedRelease, WebhookCustomFormatInfo; Lidarr's BuildOnReleaseImportPayload).
// Json.ToJson: camelCase properties, nulls left out, indented; WebhookEventType
// carries its own StringEnumConverter with DefaultNamingStrategy, so the event
// is "Download" / "Test" as the enum spells it, while other enums (series type,
// release type) are camelCase.

/** On File Import (EpisodeImportedEvent): eventType Download, the torrent's downloadId = hashString upper-cased. */
export function sonarrDownloadBody(downloadId: string, o: { isUpgrade?: boolean } = {}): string {
  const body = {
    series: {
      id: 12,
      title: 'Show',
      titleSlug: 'show',
      path: '/tv/Show',
      tvdbId: 81189,
      tvMazeId: 169,
      tmdbId: 1396,
      imdbId: 'tt0903747',
      type: 'standard',
      year: 2008,
      genres: ['Drama'],
      images: [{ coverType: 'poster', url: '/MediaCover/12/poster.jpg?lastWrite=638000000000000000', remoteUrl: 'https://artworks.thetvdb.com/banners/posters/81189-10.jpg' }],
      tags: [],
      originalLanguage: { id: 1, name: 'English' },
      originalCountry: 'us',
    },
    episodes: [
      { id: 345, episodeNumber: 1, seasonNumber: 1, title: 'Pilot', overview: 'It begins.', airDate: '2008-01-20', airDateUtc: '2008-01-21T03:00:00Z', seriesId: 12, tvdbId: 349232 },
    ],
    episodeFile: {
      id: 678,
      relativePath: 'Season 01/Show - S01E01 - Pilot WEBDL-1080p.mkv',
      path: '/tv/Show/Season 01/Show - S01E01 - Pilot WEBDL-1080p.mkv',
      quality: 'WEBDL-1080p',
      qualityVersion: 1,
      releaseGroup: 'GRP',
      sceneName: 'Show.S01E01.1080p.WEB.H264-GRP',
      size: 1_468_006_400,
      dateAdded: '2026-12-01T23:40:00Z',
      languages: [{ id: 1, name: 'English' }],
      mediaInfo: {
        audioChannels: 5.1, audioCodec: 'EAC3', audioLanguages: ['eng'], height: 1080, width: 1920, subtitles: ['eng'],
        videoCodec: 'h264', videoDynamicRange: '', videoDynamicRangeType: '',
      },
      sourcePath: '/downloads/tv-sonarr/Show.S01E01.1080p.WEB.H264-GRP.mkv',
    },
    release: { releaseTitle: 'Show.S01E01.1080p.WEB.H264-GRP', indexer: 'Indexer (Prowlarr)', size: 1_468_006_400, indexerFlags: [], releaseType: 'singleEpisode' },
    isUpgrade: o.isUpgrade ?? false,
    downloadClient: 'harvester',
    downloadClientType: 'Transmission',
    downloadId,
    customFormatInfo: { customFormats: [], customFormatScore: 0 },
    eventType: 'Download',
    instanceName: 'Sonarr',
    applicationUrl: '',
  };
  return JSON.stringify(body, null, 2);
}

/** What Test in Settings > Connect sends (BuildTestPayload: a WebhookGrabPayload with eventType Test). */
export function sonarrTestBody(): string {
  return JSON.stringify({
    series: { id: 1, title: 'Test Title', path: 'C:\\testpath', tvdbId: 1234, tvMazeId: 0, tmdbId: 0, type: 'standard', year: 0, tags: ['test-tag'] },
    episodes: [{ id: 123, episodeNumber: 1, seasonNumber: 1, title: 'Test title', seriesId: 0, tvdbId: 0 }],
    eventType: 'Test',
    instanceName: 'Sonarr',
    applicationUrl: '',
  }, null, 2);
}

/** Lidarr's On Release Import (BuildOnReleaseImportPayload): eventType Download with artist, album, trackFiles. */
export function lidarrDownloadBody(downloadId: string): string {
  return JSON.stringify({
    artist: { id: 3, name: 'Artist', path: '/music/Artist', mbId: 'f27ec8db-af05-4f36-916e-3d57f91ecf5e', tags: [] },
    album: { id: 7, title: 'Album', foreignAlbumId: '1dc4c347-a1db-32aa-b14f-bc9cc507b843', releaseDate: '2020-01-01T00:00:00Z', genres: [] },
    tracks: [{ id: 70, title: 'Track One', trackNumber: '1', quality: 'FLAC', qualityVersion: 1 }],
    trackFiles: [{ id: 700, path: '/music/Artist/Album/01 - Track One.flac', quality: 'FLAC', qualityVersion: 1, size: 31_457_280 }],
    isUpgrade: false,
    downloadClient: 'harvester',
    downloadClientType: 'Transmission',
    downloadId,
    eventType: 'Download',
    instanceName: 'Lidarr',
  }, null, 2);
}
