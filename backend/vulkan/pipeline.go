//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/ijepa-go/ijepa/shaders"
	vk "github.com/vulkan-go/vulkan"
)

// Every kernel uses one pipeline layout: one descriptor set of maxBindings
// storage buffers (binding i is the op's argument i, bound as its whole
// block) and pushBytes of push constants (element offsets, then shapes and
// scalars). A shared layout keeps a bound descriptor set valid across
// pipeline changes.
const (
	maxBindings = 8
	pushBytes   = 128
	maxSpec     = 15
)

// pipeKey names a pipeline: a kernel and its specialisation constants
// (constant i = spec[i]; constant 0 is the workgroup size).
type pipeKey struct {
	kernel string
	n      int
	spec   [maxSpec]uint32
}

// setKey names a descriptor set by the block bound at each binding.
type setKey [maxBindings]uint32

type setEntry struct {
	set  vk.DescriptorSet
	pool vk.DescriptorPool
}

// setsPerPool is the number of descriptor sets of one pool.
const setsPerPool = 256

func (b *device) initLayouts() error {
	setLayout, res := b.createSetLayout()
	if res != vk.Success {
		return resultErr("create the descriptor set layout", res)
	}
	b.setLayout = setLayout
	pipeLayout, res := b.createPipelineLayout(setLayout)
	if res != vk.Success {
		return resultErr("create the pipeline layout", res)
	}
	b.pipeLayout = pipeLayout
	pipeCache, res := b.createPipelineCache()
	if res != vk.Success {
		return resultErr("create the pipeline cache", res)
	}
	b.pipeCache = pipeCache
	return nil
}

// module returns the shader module of a kernel, creating it once.
func (b *device) module(name string) (vk.ShaderModule, error) {
	if m, ok := b.modules[name]; ok {
		return m, nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, err
	}
	if len(code) == 0 {
		return nil, fmt.Errorf("vulkan: kernel %s has no SPIR-V", name)
	}
	m, res := b.createShaderModule(code)
	if res != vk.Success {
		return nil, resultErr("create shader module "+name, res)
	}
	b.modules[name] = m
	return m, nil
}

// pipeline returns the compute pipeline of a kernel with the given
// specialisation constants, creating it once.
func (b *device) pipeline(kernel string, spec ...uint32) (vk.Pipeline, error) {
	key := pipeKey{kernel: kernel, n: len(spec)}
	copy(key.spec[:], spec)
	if p, ok := b.pipes[key]; ok {
		return p, nil
	}
	mod, err := b.module(kernel)
	if err != nil {
		return nil, err
	}
	pipe, res := b.createComputePipeline(mod, spec)
	if res != vk.Success {
		return nil, resultErr(fmt.Sprintf("create pipeline %s%v", kernel, spec), res)
	}
	b.pipes[key] = pipe
	return pipe, nil
}

// descriptorSet returns the set binding blocks[i] at binding i, creating it
// once per combination of blocks.
func (b *device) descriptorSet(blocks []*block) (vk.DescriptorSet, error) {
	var key setKey
	for i := range key {
		blk := blocks[0]
		if i < len(blocks) && blocks[i] != nil {
			blk = blocks[i]
		}
		key[i] = blk.id
	}
	if e, ok := b.sets[key]; ok {
		return e.set, nil
	}
	set, pool, err := b.allocSet()
	if err != nil {
		return nil, err
	}
	var bufs [maxBindings]vk.Buffer
	for i := range bufs {
		blk := blocks[0]
		if i < len(blocks) && blocks[i] != nil {
			blk = blocks[i]
		}
		bufs[i] = blk.buf
	}
	b.writeSet(set, &bufs)
	b.sets[key] = setEntry{set: set, pool: pool}
	return set, nil
}

// allocSet allocates a descriptor set from the newest pool, adding a pool
// when it is full.
func (b *device) allocSet() (vk.DescriptorSet, vk.DescriptorPool, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if len(b.pools) > 0 {
			pool := b.pools[len(b.pools)-1]
			set, res := b.allocateSet(pool)
			if res == vk.Success {
				return set, pool, nil
			}
			if res != vk.ErrorOutOfPoolMemory && res != vk.ErrorFragmentedPool {
				return nil, nil, resultErr("allocate a descriptor set", res)
			}
		}
		pool, res := b.createDescriptorPool()
		if res != vk.Success {
			return nil, nil, resultErr("create a descriptor pool", res)
		}
		b.pools = append(b.pools, pool)
	}
	return nil, nil, fmt.Errorf("vulkan: a new descriptor pool has no room for a set")
}

// dropSets frees the descriptor sets that bind a block (being destroyed;
// no queued work uses them).
func (b *device) dropSets(id uint32) {
	for key, e := range b.sets {
		for _, k := range key {
			if k == id {
				set := e.set
				vk.FreeDescriptorSets(b.dev, e.pool, 1, &set)
				delete(b.sets, key)
				break
			}
		}
	}
	b.boundSet = nil
}
