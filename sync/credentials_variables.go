package sync

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bitbricks/bitbricks/config"
	bitbucket "github.com/ktrysmt/go-bitbucket"
)

// pipelineVars are the variables of one binding's scope: its repository, or
// one deployment environment of it. Reading goes through the Bitbucket
// adapter; writing (which it does not cover) through go-bitbucket here.
// The environment is resolved once, and its uuid serves every reload.
type pipelineVars struct {
	bb    *Bitbucket
	repo  string
	env   *bitbucket.Environment // nil: repository variables
	byKey map[string]Variable
}

// bindingVars reads a binding's variables (and resolves its environment).
func (c *Credentials) bindingVars(ctx context.Context, b config.Binding) (*pipelineVars, error) {
	if c.Bitbucket == nil {
		return nil, fmt.Errorf("binding %s: no Bitbucket client", b.Name)
	}
	v := &pipelineVars{bb: c.Bitbucket, repo: b.Repository}
	if b.Environment != "" {
		env, err := v.bb.environment(ctx, b.Repository, b.Environment)
		if err != nil {
			return nil, v.bb.wrap("list deployment environments of "+b.Repository, err)
		}
		if v.env = env; v.env == nil {
			return nil, fmt.Errorf("binding %s: repository %s has no deployment environment %q", b.Name, b.Repository, b.Environment)
		}
	}
	return v, v.reload(ctx)
}

// reload re-reads the variables of the scope, in the environment resolved
// when v was made (no new listing of environments).
func (v *pipelineVars) reload(ctx context.Context) error {
	var vs []Variable
	var err error
	if v.env == nil {
		vs, err = v.bb.Variables(ctx, v.repo, "")
	} else {
		vs, err = v.bb.environmentVariables(ctx, v.repo, v.env)
		err = v.bb.check(fmt.Sprintf("list deployment variables of %s environment %s", v.repo, v.env.Name), err, false)
	}
	if err != nil {
		return err
	}
	v.byKey = map[string]Variable{}
	for _, x := range vs {
		v.byKey[x.Key] = x
	}
	return nil
}

// set writes a variable: PUT when it exists, else POST (and PUT after all
// when a POST finds it created meanwhile, 409).
func (v *pipelineVars) set(ctx context.Context, key, value string, secured bool) error {
	err := v.put(ctx, key, value, secured)
	if httpStatus(err) == http.StatusConflict {
		if err = v.reload(ctx); err == nil {
			err = v.put(ctx, key, value, secured)
		}
	}
	if err != nil {
		return scrub(v.bb.wrap(fmt.Sprintf("write variable %s of %s", key, v.repo), err), value)
	}
	return nil
}

func (v *pipelineVars) put(ctx context.Context, key, value string, secured bool) error {
	repo, ws := v.bb.bb.Repositories.Repository, v.bb.workspace
	cur, exists := v.byKey[key]
	var uuid string
	var err error
	if v.env == nil {
		opt := &bitbucket.RepositoryPipelineVariableOptions{Owner: ws, RepoSlug: v.repo, Uuid: cur.UUID, Key: key, Value: value, Secured: secured}
		var pv *bitbucket.PipelineVariable
		pv, err = withContext(ctx, func() (*bitbucket.PipelineVariable, error) {
			if exists {
				return repo.UpdatePipelineVariable(opt)
			}
			return repo.AddPipelineVariable(opt)
		})
		if pv != nil {
			uuid = pv.Uuid
		}
	} else {
		opt := &bitbucket.RepositoryDeploymentVariableOptions{Owner: ws, RepoSlug: v.repo, Environment: v.env, Uuid: cur.UUID, Key: key, Value: value, Secured: secured}
		var dv *bitbucket.DeploymentVariable
		dv, err = withContext(ctx, func() (*bitbucket.DeploymentVariable, error) {
			if exists {
				return repo.UpdateDeploymentVariable(opt)
			}
			return repo.AddDeploymentVariable(opt)
		})
		if dv != nil {
			uuid = dv.Uuid
		}
	}
	if err == nil && !exists {
		v.byKey[key] = Variable{UUID: uuid, Key: key, Secured: secured}
	}
	return err
}
