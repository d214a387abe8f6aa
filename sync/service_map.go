package sync

import (
	"context"
	"fmt"

	"github.com/bitbricks/bitbricks/config"
)

// Map adds a mapping of the Bitbucket group bitbucketGroup, which no mapping
// names yet, to the Databricks group databricksGroup (which the plan then
// creates if it does not exist): the config file is rewritten with its
// comments and layout kept (only when the result is a valid config), the
// change is audited, and the service plans with the new config from then on.
func (s *Service) Map(ctx context.Context, bitbucketGroup, databricksGroup string) error {
	cfg := s.Config()
	if len(cfg.MappingFor(bitbucketGroup)) > 0 {
		return fmt.Errorf("map: %s is mapped already; re-map it instead", bitbucketGroup)
	}
	src, err := config.ReadFile(cfg.Path, "config file")
	if err != nil {
		return fmt.Errorf("map: %w", err)
	}
	out, err := config.AddMapping(src, bitbucketGroup, databricksGroup)
	if err != nil {
		return err
	}
	next, err := config.Parse(cfg.Path, out)
	if err != nil {
		return fmt.Errorf("map would make the config invalid, so it was not written: %w", err)
	}
	op, err := s.operator(ctx)
	if err != nil {
		return err
	}
	return s.editingConfig(ctx, "map", config.Mapping{}, func(ctx context.Context) error {
		if err := writeFileAtomic(cfg.Path, out); err != nil {
			return fmt.Errorf("map: %w", err)
		}
		s.setConfig(next)
		ev := AuditEvent{Time: s.now().UTC(), Operator: op, Action: "map",
			Target: fmt.Sprintf("mapping %s -> %s", bitbucketGroup, databricksGroup) + s.mappingScope(config.Mapping{}), Result: ResultApplied}
		if s.src.Audit != nil && next.Audit.File == cfg.Audit.File {
			return s.src.Audit.Append(ctx, ev)
		}
		return AppendAudit(next.Audit.File, ev)
	})
}
